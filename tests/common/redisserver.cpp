// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "redisserver.h"

#include "rawredisclient.h"
#include "testcertificates.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QHostAddress>
#include <QMutex>
#include <QMutexLocker>
#include <QProcess>
#include <QSet>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QUrl>

#include <csignal>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

namespace QRedlockTest {

namespace {

const QString localHost = QStringLiteral("127.0.0.1");

// Ports handed out in this process are never handed out again, so that
// servers booting in parallel cannot pick the same one, and a test holding a
// stale URL never reaches a newer server by accident.
quint16 pickFreePort()
{
    static QMutex mutex;
    static QSet<quint16> used;
    for (int attempt = 0; attempt < 100; ++attempt) {
        QTcpServer probe;
        if (!probe.listen(QHostAddress::LocalHost, 0))
            continue;
        const quint16 port = probe.serverPort();
        probe.close();
        QMutexLocker locker(&mutex);
        if (!used.contains(port)) {
            used.insert(port);
            return port;
        }
    }
    return 0;
}

QString redisServerProgram()
{
    const QString configured = qEnvironmentVariable("QREDLOCK_REDIS_SERVER");
    if (!configured.isEmpty())
        return configured;
    return QStandardPaths::findExecutable(QStringLiteral("redis-server"));
}

// The last `lines` lines of a text file, or a note that it is missing.
QString tailOfFile(const QString &path, int lines)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return QStringLiteral("(no ") + path + QLatin1Char(')');
    const QList<QByteArray> all = file.readAll().trimmed().split('\n');
    const QList<QByteArray> tail = all.mid(qMax<qsizetype>(0, all.size() - lines));
    return QString::fromUtf8(tail.join('\n'));
}

} // namespace

// ---- RedisServer ------------------------------------------------------------

RedisServer::RedisServer(QObject *parent)
    : QObject(parent)
{
}

RedisServer::~RedisServer()
{
    stop();
}

bool RedisServer::start(const Options &options)
{
    return launch(options) && waitUntilReady();
}

bool RedisServer::launch(const Options &options)
{
    if (isRunning()) {
        setError(QStringLiteral("the server is running already"));
        return false;
    }
    m_options = options;
    m_portFixed = false;
    m_paused = false;
    m_errorString.clear();

    if (m_options.tls) {
        QString error;
        if (!TestCertificates::ensure(&error)) {
            setError(QStringLiteral("cannot make TLS certificates: ") + error);
            return false;
        }
    }
    m_dir = std::make_unique<QTemporaryDir>(QDir::tempPath() + QStringLiteral("/qredlock-redis-XXXXXX"));
    if (!m_dir->isValid()) {
        setError(QStringLiteral("cannot create a temporary folder: ") + m_dir->errorString());
        return false;
    }
    const quint16 port = pickFreePort();
    if (port == 0) {
        setError(QStringLiteral("no free loopback port found"));
        return false;
    }
    return launchOnPort(port);
}

bool RedisServer::launchOnPort(quint16 port)
{
    const QString program = redisServerProgram();
    if (program.isEmpty()) {
        setError(QStringLiteral("redis-server not found in PATH (install the redis-server package, "
                                "or set QREDLOCK_REDIS_SERVER)"));
        return false;
    }
    m_port = port;
    const QString portText = QString::number(port);

    QStringList args{QStringLiteral("--bind"), localHost,
                     QStringLiteral("--dir"), dataDir(),
                     QStringLiteral("--logfile"), logFile(),
                     QStringLiteral("--save"), QString(),
                     QStringLiteral("--daemonize"), QStringLiteral("no"),
                     QStringLiteral("--protected-mode"), QStringLiteral("no")};
    if (m_options.tls) {
        args << QStringLiteral("--port") << QStringLiteral("0")
             << QStringLiteral("--tls-port") << portText
             << QStringLiteral("--tls-cert-file") << TestCertificates::serverCertFile()
             << QStringLiteral("--tls-key-file") << TestCertificates::serverKeyFile()
             << QStringLiteral("--tls-ca-cert-file") << TestCertificates::caFile()
             << QStringLiteral("--tls-auth-clients") << QStringLiteral("optional");
    } else {
        args << QStringLiteral("--port") << portText;
    }
    if (m_options.persistence)
        args << QStringLiteral("--appendonly") << QStringLiteral("yes")
             << QStringLiteral("--appendfsync") << QStringLiteral("always");
    else
        args << QStringLiteral("--appendonly") << QStringLiteral("no");
    if (!m_options.password.isEmpty())
        args << QStringLiteral("--requirepass") << m_options.password;
    if (!m_options.aclUser.isEmpty()) {
        // Redis joins the words up to the next "--" into one config line.
        args << QStringLiteral("--user") << m_options.aclUser << QStringLiteral("on")
             << (m_options.aclPassword.isEmpty() ? QStringLiteral("nopass")
                                                 : QLatin1Char('>') + m_options.aclPassword)
             << QStringLiteral("~*") << QStringLiteral("&*") << QStringLiteral("+@all");
    }
    if (m_options.unixSocket)
        args << QStringLiteral("--unixsocket") << socketPath()
             << QStringLiteral("--unixsocketperm") << QStringLiteral("700");
    args << m_options.extraArgs;

    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(m_options.extraEnv);
    if (!m_options.preloadLibrary.isEmpty())
        env.insert(QStringLiteral("LD_PRELOAD"), m_options.preloadLibrary);

    delete m_process;
    m_process = new QProcess(this);
    m_stopRequested = false;
    m_process->setProgram(program);
    m_process->setArguments(args);
    m_process->setProcessEnvironment(env);
    m_process->setWorkingDirectory(dataDir());
    // Start-up errors (bad arguments) go to stdout/stderr before the log file
    // is opened: keep them in a file of the folder for logTail().
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    m_process->setStandardOutputFile(m_dir->filePath(QStringLiteral("stdout.log")), QIODevice::Append);
    // Runs in the child between fork and exec: have the kernel kill the server
    // when this process dies, even without running any destructor.
    const pid_t parent = ::getpid();
    m_process->setChildProcessModifier([parent] {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) // the parent died before prctl()
            ::_exit(1);
    });
    m_process->start();
    if (!m_process->waitForStarted(5000)) {
        setError(QStringLiteral("cannot start ") + program + QStringLiteral(": ")
                 + m_process->errorString());
        return false;
    }
    return true;
}

bool RedisServer::waitUntilReady(int timeoutMs)
{
    const QDeadlineTimer deadline(timeoutMs);
    int portRetries = 0;
    QString lastReply;
    while (m_process) {
        if (m_process->state() == QProcess::NotRunning) {
            // Another process may have taken the port between pickFreePort()
            // and the server's bind(): try another one (unless restarting).
            const bool portTaken = tailOfFile(logFile(), 10).contains(QStringLiteral("Address already in use"));
            if (portTaken && !m_portFixed && portRetries < 5 && !deadline.hasExpired()) {
                ++portRetries;
                const quint16 port = pickFreePort();
                if (port != 0 && launchOnPort(port))
                    continue;
            }
            setError(QStringLiteral("redis-server exited during start-up (exit code ")
                     + QString::number(m_process->exitCode()) + QLatin1Char(')'));
            return false;
        }

        RawRedisClient client;
        configureClient(client);
        const int step = int(qBound(qint64(1), deadline.remainingTime(), qint64(1000)));
        if (client.connectToHost(localHost, m_port, step)) {
            // PING fails with LOADING until the AOF is loaded. The process id
            // shows the answer came from our process, not from one of another
            // test program that took the port first (ours then exits).
            const QVariant reply = client.command({QByteArrayLiteral("PING")}, step);
            const QByteArray ownId = "process_id:" + QByteArray::number(m_process->processId()) + "\r\n";
            if (reply != QVariant(QByteArrayLiteral("PONG")))
                lastReply = isError(reply) ? errorMessage(reply) : reply.toString();
            else if (client.command({QByteArrayLiteral("INFO"), QByteArrayLiteral("server")}, step)
                             .toByteArray().contains(ownId))
                return true;
            else
                lastReply = QStringLiteral("PONG from another process on the port");
        } else {
            lastReply = client.errorString();
        }
        if (deadline.hasExpired()) {
            setError(QStringLiteral("redis-server did not answer PING within ")
                     + QString::number(timeoutMs) + QStringLiteral(" ms (last: ") + lastReply
                     + QLatin1Char(')'));
            kill();
            return false;
        }
        // A short pause that also notices the process's exit at once.
        m_process->waitForFinished(10);
    }
    setError(QStringLiteral("the server was never launched"));
    return false;
}

bool RedisServer::restart(int timeoutMs)
{
    if (!m_dir || m_port == 0) {
        setError(QStringLiteral("restart() before start()"));
        return false;
    }
    stop();
    m_portFixed = true;
    m_paused = false;
    return launchOnPort(m_port) && waitUntilReady(timeoutMs);
}

void RedisServer::requestStop()
{
    if (!isRunning() || m_stopRequested)
        return;
    resume(); // a stopped process would not act on SIGTERM
    m_process->terminate();
    m_stopRequested = true;
}

void RedisServer::stop()
{
    if (!isRunning())
        return;
    requestStop();
    if (!m_process->waitForFinished(5000)) {
        m_process->kill();
        m_process->waitForFinished(5000);
    }
}

void RedisServer::kill()
{
    if (!isRunning())
        return;
    m_process->kill(); // SIGKILL works on a stopped process too
    m_process->waitForFinished(5000);
    m_paused = false;
}

void RedisServer::pause()
{
    if (isRunning() && !m_paused) {
        signal(SIGSTOP);
        m_paused = true;
    }
}

void RedisServer::resume()
{
    if (isRunning() && m_paused) {
        signal(SIGCONT);
        m_paused = false;
    }
}

void RedisServer::signal(int sig)
{
    const qint64 id = pid();
    if (id > 0)
        ::kill(pid_t(id), sig);
}

bool RedisServer::isRunning() const
{
    return m_process && m_process->state() != QProcess::NotRunning;
}

bool RedisServer::isPaused() const
{
    return m_paused;
}

QString RedisServer::errorString() const
{
    return m_errorString;
}

void RedisServer::setError(const QString &message)
{
    m_errorString = message;
    if (m_dir)
        m_errorString += QLatin1Char('\n') + logTail();
}

const RedisServer::Options &RedisServer::options() const
{
    return m_options;
}

QString RedisServer::host() const
{
    return localHost;
}

quint16 RedisServer::port() const
{
    return m_port;
}

qint64 RedisServer::pid() const
{
    return isRunning() ? m_process->processId() : 0;
}

QString RedisServer::url() const
{
    QUrl url;
    url.setScheme(m_options.tls ? QStringLiteral("rediss") : QStringLiteral("redis"));
    url.setHost(localHost);
    url.setPort(m_port);
    if (!m_options.password.isEmpty())
        url.setPassword(m_options.password);
    return url.toString(QUrl::FullyEncoded);
}

QString RedisServer::aclUrl() const
{
    QUrl url(this->url());
    url.setUserName(m_options.aclUser);
    url.setPassword(m_options.aclPassword);
    return url.toString(QUrl::FullyEncoded);
}

QString RedisServer::socketPath() const
{
    return m_options.unixSocket && m_dir ? m_dir->filePath(QStringLiteral("redis.sock")) : QString();
}

QString RedisServer::unixUrl() const
{
    const QString path = socketPath();
    return path.isEmpty() ? QString() : QString(QStringLiteral("unix://") + path);
}

QString RedisServer::dataDir() const
{
    return m_dir ? m_dir->path() : QString();
}

QString RedisServer::logFile() const
{
    return m_dir ? m_dir->filePath(QStringLiteral("redis.log")) : QString();
}

QString RedisServer::logTail(int lines) const
{
    if (!m_dir)
        return {};
    return QStringLiteral("--- redis.log (tail) ---\n") + tailOfFile(logFile(), lines)
            + QStringLiteral("\n--- stdout/stderr (tail) ---\n")
            + tailOfFile(m_dir->filePath(QStringLiteral("stdout.log")), lines);
}

QString RedisServer::caFile() const { return TestCertificates::caFile(); }
QString RedisServer::clientCertFile() const { return TestCertificates::clientCertFile(); }
QString RedisServer::clientKeyFile() const { return TestCertificates::clientKeyFile(); }
QString RedisServer::wrongCaFile() const { return TestCertificates::wrongCaFile(); }

void RedisServer::configureClient(RawRedisClient &client) const
{
    if (m_options.tls)
        client.setTls(TestCertificates::caFile(), TestCertificates::clientCertFile(),
                      TestCertificates::clientKeyFile());
    client.setAuth(QString(), m_options.password);
}

QVariant RedisServer::command(const QList<QByteArray> &args, int timeoutMs)
{
    const QDeadlineTimer deadline(timeoutMs);
    RawRedisClient client;
    configureClient(client);
    if (!client.connectToHost(localHost, m_port, timeoutMs))
        return client.lastError();
    return client.command(args, int(qMax<qint64>(1, deadline.remainingTime())));
}

std::unique_ptr<RawRedisClient> RedisServer::connectClient(int timeoutMs)
{
    auto client = std::make_unique<RawRedisClient>();
    configureClient(*client);
    if (!client->connectToHost(localHost, m_port, timeoutMs)) {
        m_errorString = client->errorString();
        return nullptr;
    }
    return client;
}

// ---- RedisCluster -----------------------------------------------------------

RedisCluster::RedisCluster(QObject *parent)
    : QObject(parent)
{
}

RedisCluster::~RedisCluster()
{
    stop();
}

bool RedisCluster::start(int n, const RedisServer::Options &options)
{
    stop();
    m_errorString.clear();
    for (int i = 0; i < n; ++i)
        m_servers.push_back(std::make_unique<RedisServer>());

    const auto fail = [this](int i) {
        m_errorString = QStringLiteral("server ") + QString::number(i) + QStringLiteral(": ")
                + m_servers[size_t(i)]->errorString();
        stop();
        return false;
    };
    // Launch all first, then wait: the servers boot in parallel.
    const QDeadlineTimer deadline(10000);
    for (int i = 0; i < n; ++i) {
        if (!m_servers[size_t(i)]->launch(options))
            return fail(i);
    }
    for (int i = 0; i < n; ++i) {
        if (!m_servers[size_t(i)]->waitUntilReady(int(qMax<qint64>(1, deadline.remainingTime()))))
            return fail(i);
    }
    return true;
}

void RedisCluster::stop()
{
    // A server acts on SIGTERM at its next cron tick (up to 100 ms): signal
    // all first, so that they shut down in parallel, then wait for each.
    for (const auto &server : m_servers)
        server->requestStop();
    m_servers.clear(); // each destructor waits for (or kills) its server
}

int RedisCluster::size() const
{
    return int(m_servers.size());
}

RedisServer &RedisCluster::at(int i)
{
    Q_ASSERT(i >= 0 && i < size());
    return *m_servers[size_t(i)];
}

QStringList RedisCluster::urls() const
{
    QStringList result;
    for (const auto &server : m_servers)
        result.append(server->url());
    return result;
}

QString RedisCluster::errorString() const
{
    return m_errorString;
}

} // namespace QRedlockTest
