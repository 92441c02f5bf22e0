// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "clifixture.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QTcpServer>
#include <QTest>

#include <cerrno>
#include <csignal>
#include <unistd.h>

using namespace QRedlockTest;

namespace QRedlockCliTest {

QString toolPath()
{
    return QStringLiteral(QREDLOCK_TOOL_PATH);
}

QStringList sl(std::initializer_list<const char *> items)
{
    QStringList out;
    for (const char *item : items)
        out << QString::fromUtf8(item);
    return out;
}
QStringList &operator<<(QStringList &list, const char *item)
{
    list.append(QString::fromUtf8(item));
    return list;
}
QStringList operator<<(QStringList &&list, const char *item)
{
    list.append(QString::fromUtf8(item));
    return std::move(list);
}

qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

bool processExists(qint64 pid)
{
    return pid > 0 && (::kill(pid_t(pid), 0) == 0 || errno != ESRCH);
}

// The lines of a file (empty when it does not exist yet).
QStringList linesOf(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QString::fromUtf8(f.readAll()).split(u'\n', Qt::SkipEmptyParts);
}

// Waits (polling every few ms, so that timing assertions stay tight) until some line of the
// file starts with prefix; returns that line.
QString waitForLine(const QString &path, const char *prefixText, int timeoutMs)
{
    const QString prefix = QString::fromUtf8(prefixText);
    QElapsedTimer t;
    t.start();
    for (;;) {
        const QStringList lines = linesOf(path);
        for (const QString &line : lines) {
            if (line.startsWith(prefix))
                return line;
        }
        if (t.elapsed() >= timeoutMs)
            return QString();
        QTest::qWait(5);
    }
}

// The number after the first word of a line like "term 1700000000123".
qint64 numberIn(const QString &line)
{
    return line.section(u' ', 1, 1).toLongLong();
}

// The parent of a process (field 4 of /proc/<pid>/stat), -1 when it is gone.
qint64 parentOf(qint64 pid)
{
    QFile f(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray stat = f.readAll();
    return stat.mid(stat.lastIndexOf(')') + 2).split(' ').value(1).toLongLong();
}

// Waits until a process has gone (reaped: not even a zombie is left).
bool waitGone(qint64 pid, int timeoutMs)
{
    QElapsedTimer t;
    t.start();
    while (processExists(pid)) {
        if (t.elapsed() >= timeoutMs)
            return false;
        QTest::qWait(5);
    }
    return true;
}

// A loopback port with nothing listening on it (taken and given back at once).
quint16 freePort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 0;
    return probe.serverPort();
}

QStringList CliFixture::serverArgs() const
{
    QStringList args;
    const QStringList urls = m_cluster.urls();
    for (const QString &u : urls)
        args << QStringLiteral("-s") << u;
    return args;
}

QProcess *CliFixture::startTool(const QStringList &args, const QProcessEnvironment &env)
{
    return launch(args, env, false);
}

QProcess *CliFixture::startToolInOwnGroup(const QStringList &args)
{
    return launch(args, {}, true);
}

QProcess *CliFixture::launch(const QStringList &args, const QProcessEnvironment &env, bool ownGroup)
{
    auto p = std::make_unique<QProcess>();
    QProcessEnvironment e = env.isEmpty() ? QProcessEnvironment::systemEnvironment() : env;
    if (env.isEmpty())
        e.remove(QStringLiteral("QREDLOCK_SERVERS"));
    p->setProcessEnvironment(e);
    p->setWorkingDirectory(m_dir->path());
    p->setProgram(toolPath());
    p->setArguments(args);
    if (ownGroup)
        p->setChildProcessModifier([] { ::setpgid(0, 0); });
    auto clock = std::make_unique<QElapsedTimer>();
    clock->start();
    p->start();
    m_processes.push_back(std::move(p));
    m_clocks.push_back(std::move(clock));
    return m_processes.back().get();
}

Outcome CliFixture::finish(QProcess *p, int timeoutMs)
{
    Outcome o;
    if (p->state() != QProcess::NotRunning && !p->waitForFinished(timeoutMs)) {
        qWarning("qredlock %s did not finish within %d ms", qPrintable(p->arguments().join(u' ')), timeoutMs);
        return o;
    }
    o.exitCode = p->exitCode();
    o.status = p->exitStatus();
    o.out = p->readAllStandardOutput();
    o.err = p->readAllStandardError();
    for (size_t i = 0; i < m_processes.size(); ++i) {
        if (m_processes[i].get() == p)
            o.elapsedMs = m_clocks[i]->elapsed();
    }
    return o;
}

Outcome CliFixture::runTool(const QStringList &args, const QByteArray &input, const QProcessEnvironment &env)
{
    QProcess *p = startTool(args, env);
    if (!input.isEmpty())
        p->write(input);
    p->closeWriteChannel();
    return finish(p);
}

Outcome CliFixture::finishServing(QProcess *p, int timeoutMs)
{
    QElapsedTimer t;
    t.start();
    while (p->state() != QProcess::NotRunning && t.elapsed() < timeoutMs)
        QTest::qWait(5);
    return finish(p, 0);
}

void CliFixture::writeScript(const char *name, const char *text)
{
    QFile f(file(name));
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QByteArray(text).replace("WAITLOOP", WaitLoop));
}

bool CliFixture::setOn(int server, const QByteArray &key, const QByteArray &value)
{
    return m_cluster.at(server).command({ "SET", key, value, "PX", "60000" }) == QVariant(QByteArray("OK"));
}

QJsonObject CliFixture::statusJson(const QString &resource, int *exitCode)
{
    const Outcome o = runTool(serverArgs() << QStringLiteral("status") << QStringLiteral("--resource") << resource
                                           << QStringLiteral("--json"));
    if (exitCode)
        *exitCode = o.exitCode;
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(o.out, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        qWarning("status --json printed no JSON object (%s): %s", qPrintable(error.errorString()), o.out.constData());
    return doc.object();
}

void CliFixture::setUpCase()
{
    QVERIFY2(QFileInfo(toolPath()).isExecutable(), qPrintable(u"the tool is missing: " + toolPath()));
    QVERIFY2(m_cluster.start(3), qPrintable(m_cluster.errorString()));
    RedisServer::Options o;
    o.password = QStringLiteral("s3cret");
    QVERIFY2(m_passwordServer.start(o), qPrintable(m_passwordServer.errorString()));
}

void CliFixture::setUp()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    for (int i = 0; i < m_cluster.size(); ++i) {
        m_cluster.at(i).resume();
        QCOMPARE(m_cluster.at(i).command({ "FLUSHALL" }), QVariant(QByteArray("OK")));
    }
}

void CliFixture::tearDown()
{
    QFile(file("stop")).open(QIODevice::WriteOnly); // ends the WaitLoop of any command left over
    for (int i = 0; i < m_cluster.size(); ++i)
        m_cluster.at(i).resume();
    for (auto &p : m_processes) {
        if (p->state() != QProcess::NotRunning) {
            p->kill();
            p->waitForFinished(5000);
        }
    }
    m_processes.clear();
    m_clocks.clear();
}

// ---- command line --------------------------------------------------------------------------

} // namespace QRedlockCliTest
