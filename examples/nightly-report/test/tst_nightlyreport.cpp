// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Three nightly-report processes against three real servers: every period's report is
// written exactly once; SIGKILL on the instance that is writing one lets another take over
// once the lease has run out; SIGTERM releases at once, so another takes over right away.

#include "redisserver.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QMap>
#include <QProcess>
#include <QRegularExpression>
#include <QTest>

#include <memory>
#include <vector>

using QRedlockTest::RedisCluster;

namespace {

constexpr int Period = 1500;
constexpr int Work = 400;
constexpr int Retry = 200;
constexpr int AtMost = 1200;

struct Line
{
    QString instance;
    QString text;
    qint64 wallMs; // when the test read it
};

} // namespace

class tst_NightlyReport : public QObject
{
    Q_OBJECT

private:
    QProcess *launch(const QString &name);
    // Waits for a line matching re from any instance in `among`, read after index `from`.
    int waitForLine(const QRegularExpression &re, int from, int timeoutMs, const QStringList &among = {});
    QString dump() const;

    RedisCluster m_cluster;
    std::vector<std::unique_ptr<QProcess>> m_processes;
    QList<Line> m_lines;

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void oncePerPeriod_andTakeover();
};

void tst_NightlyReport::initTestCase()
{
    QVERIFY2(m_cluster.start(3), qPrintable(QStringLiteral("cannot start 3 redis-server processes (run scripts/setup): ")
                                            + m_cluster.errorString()));
}

void tst_NightlyReport::cleanupTestCase()
{
    for (auto &p : m_processes) {
        p->kill();
        p->waitForFinished(3000);
    }
}

QProcess *tst_NightlyReport::launch(const QString &name)
{
    auto process = std::make_unique<QProcess>();
    QStringList args;
    const QStringList urls = m_cluster.urls();
    for (const QString &url : urls)
        args << QStringLiteral("-s") << url;
    args << QStringLiteral("--name") << name << QStringLiteral("--period") << QString::number(Period)
         << QStringLiteral("--work") << QString::number(Work) << QStringLiteral("--retry") << QString::number(Retry)
         << QStringLiteral("--lock-at-most-for") << QString::number(AtMost) << QStringLiteral("--lock-at-least-for")
         << QStringLiteral("200") << QStringLiteral("--resource") << QStringLiteral("tst-nightly") << QStringLiteral("--quit-after")
         << QStringLiteral("60000");
    QProcess *p = process.get();
    p->setProcessChannelMode(QProcess::ForwardedErrorChannel);
    connect(p, &QProcess::readyReadStandardOutput, this, [this, p, name] {
        while (p->canReadLine()) {
            const QString line = QString::fromLocal8Bit(p->readLine()).trimmed();
            // "[A] 12:00:05.002 running report ..." -> "running report ..."
            m_lines.append({ name, line.section(u' ', 2), QDateTime::currentMSecsSinceEpoch() });
        }
    });
    p->start(QStringLiteral(NIGHTLY_REPORT_EXECUTABLE), args);
    m_processes.push_back(std::move(process));
    return p;
}

int tst_NightlyReport::waitForLine(const QRegularExpression &re, int from, int timeoutMs, const QStringList &among)
{
    QDeadlineTimer deadline(timeoutMs);
    while (true) {
        for (int i = from; i < m_lines.size(); ++i) {
            if ((among.isEmpty() || among.contains(m_lines[i].instance)) && re.match(m_lines[i].text).hasMatch())
                return i;
        }
        if (deadline.hasExpired())
            return -1;
        QTest::qWait(10);
    }
}

QString tst_NightlyReport::dump() const
{
    QString out;
    for (const Line &l : m_lines)
        out += QStringLiteral("\n  %1 %2 %3").arg(l.wallMs % 100000).arg(l.instance, l.text);
    return out;
}

void tst_NightlyReport::oncePerPeriod_andTakeover()
{
    QStringList alive { QStringLiteral("A"), QStringLiteral("B"), QStringLiteral("C") };
    QMap<QString, QProcess *> processes;
    for (const QString &name : alive)
        processes.insert(name, launch(name));
    for (QProcess *p : processes)
        QVERIFY2(p->waitForStarted(5000), qPrintable(p->errorString()));

    static const QRegularExpression running(QStringLiteral("^running report for period (\\d+)"));
    static const QRegularExpression written(QStringLiteral("^report for period (\\d+) written"));

    // Phase 1: three whole periods.
    QTest::qWait(3 * Period + Period / 2);
    QVERIFY2(waitForLine(QRegularExpression(QStringLiteral("^skipped: held by another instance")), 0, 0) >= 0,
             qPrintable(dump()));

    // Phase 2: SIGKILL the instance writing a report that started early in its period; after
    // its lease runs out another one runs (the same period, or the next).
    auto killRunner = [&](bool graceful) -> QString {
        for (int tries = 0; tries < 4; ++tries) {
            const int at = waitForLine(running, m_lines.size(), 2 * Period, alive);
            if (at < 0)
                return QString();
            if (m_lines[at].wallMs % Period > 300)
                continue; // a late takeover run: too close to the period's end
            const QString victim = m_lines[at].instance;
            if (graceful)
                processes[victim]->terminate();
            else
                processes[victim]->kill();
            alive.removeAll(victim);
            return victim;
        }
        return QString();
    };
    const int beforeKill = m_lines.size();
    const QString killed = killRunner(false);
    QVERIFY2(!killed.isEmpty(), qPrintable(dump()));
    QElapsedTimer sinceKill;
    sinceKill.start();
    const int takeover = waitForLine(written, beforeKill, AtMost + 2 * Period, alive);
    QVERIFY2(takeover >= 0, qPrintable(QStringLiteral("nobody took over from %1:%2").arg(killed, dump())));

    // Phase 3: SIGTERM releases the lock on the way out: the last one takes over at once.
    const int beforeTerm = m_lines.size();
    const QString stopped = killRunner(true);
    QVERIFY2(!stopped.isEmpty(), qPrintable(dump()));
    const qint64 stoppedAt = QDateTime::currentMSecsSinceEpoch();
    const int cancelled = waitForLine(QRegularExpression(QStringLiteral("^a report was in progress: cancelled")),
                                      beforeTerm, 3000, { stopped });
    QVERIFY2(cancelled >= 0, qPrintable(dump()));
    const int taken = waitForLine(running, beforeTerm, Period, alive);
    QVERIFY2(taken >= 0, qPrintable(dump()));
    QVERIFY2(m_lines[taken].wallMs - stoppedAt < Retry + 400,
             qPrintable(QStringLiteral("took over %1 ms after SIGTERM:%2").arg(m_lines[taken].wallMs - stoppedAt).arg(dump())));
    QVERIFY(waitForLine(written, taken, Period + Work, alive) >= 0);

    // Over the whole run: no period was written twice, and the killed instance's
    // unfinished period did not count.
    QMap<QString, int> writtenPer;
    for (const Line &l : std::as_const(m_lines)) {
        const QRegularExpressionMatch m = written.match(l.text);
        if (m.hasMatch())
            ++writtenPer[m.captured(1)];
    }
    QVERIFY2(writtenPer.size() >= 4, qPrintable(dump()));
    for (auto it = writtenPer.cbegin(); it != writtenPer.cend(); ++it)
        QVERIFY2(it.value() == 1, qPrintable(QStringLiteral("period %1 written %2 times:%3").arg(it.key()).arg(it.value()).arg(dump())));
    for (QProcess *p : processes) {
        if (alive.contains(processes.key(p)))
            p->terminate();
    }
}

QTEST_MAIN(tst_NightlyReport)
#include "tst_nightlyreport.moc"
