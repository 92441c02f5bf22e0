// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Throw-away redis-server processes for integration tests.
//
// Every server runs from PATH's `redis-server` (or $QREDLOCK_REDIS_SERVER) on
// a free loopback port with its own temporary folder, no RDB snapshots and,
// unless asked, no AOF. Nothing is written outside the temporary folders.
//
// The destructor always stops the process (SIGTERM, then SIGKILL after 5 s),
// resuming it first if it was paused. Should the test process itself die
// without running destructors (crash, abort, watchdog), the kernel kills the
// server too (PR_SET_PDEATHSIG), so no stray redis-server is left behind.
// Create servers in the thread that lives longest (normally the main thread):
// the death signal is tied to the thread that started the process.

#ifndef QREDLOCKTEST_REDISSERVER_H
#define QREDLOCKTEST_REDISSERVER_H

#include <QList>
#include <QObject>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>
#include <QVariant>

#include <memory>
#include <vector>

QT_BEGIN_NAMESPACE
class QProcess;
class QTemporaryDir;
QT_END_NAMESPACE

namespace QRedlockTest {

class RawRedisClient;

// How a RedisServer is started (RedisServer::Options).
// (Outside the class so that it can be a default argument of its functions.)
struct RedisServerOptions
{
    // requirepass for the default user.
    QString password;
    // An extra ACL user: `user <aclUser> on >aclPassword ~* &* +@all`
    // (nopass when aclPassword is empty). The default user keeps working
    // (with `password` when one is set). Names and passwords must not
    // contain spaces.
    QString aclUser;
    QString aclPassword;
    // TLS only (plain port disabled): see TestCertificates for the files.
    // Clients may present client.crt (tls-auth-clients optional).
    bool tls = false;
    // Also listen on <dataDir>/redis.sock (mode 700); see socketPath().
    bool unixSocket = false;
    // appendonly yes + appendfsync always: restart() after kill() keeps
    // every acknowledged write.
    bool persistence = false;
    // Appended to the command line, e.g. {"--maxmemory", "10mb"}.
    QStringList extraArgs;
    // Put in LD_PRELOAD for the server (e.g. a clock-scaling shim).
    QString preloadLibrary;
    // Added to (and overriding) the test's environment for the server.
    QProcessEnvironment extraEnv;
};

class RedisServer : public QObject
{
    Q_OBJECT

public:
    using Options = RedisServerOptions;

    explicit RedisServer(QObject *parent = nullptr);
    ~RedisServer() override;

    // launch() + waitUntilReady(). Returns false with errorString() on failure.
    bool start(const Options &options = {});
    // The two halves of start(), so that many servers can boot in parallel:
    // launch() picks a port and starts the process without waiting;
    // waitUntilReady() waits until the server answers PING with PONG (with
    // AUTH, over TLS as configured), retrying with a new port if the chosen
    // one was taken meanwhile. Calling start() again on a running server fails.
    bool launch(const Options &options = {});
    bool waitUntilReady(int timeoutMs = 10000);

    // Stops the process if it still runs (gracefully, as stop()), then starts
    // it again on the same port, with the same options and the same folder,
    // and waits until it is ready. With persistence the AOF is reloaded.
    bool restart(int timeoutMs = 10000);
    // SIGTERM, wait; SIGKILL after 5 s. No-op when not running.
    void stop();
    // SIGKILL and wait for the exit (no shutdown, nothing is saved).
    void kill();
    // SIGSTOP / SIGCONT: a paused server keeps its connections open but
    // answers nothing (new TCP connects still complete in the kernel).
    void pause();
    void resume();

    bool isRunning() const;
    bool isPaused() const;
    QString errorString() const;
    const Options &options() const;

    QString host() const; // always "127.0.0.1"
    quint16 port() const; // the TLS port when tls
    qint64 pid() const;   // 0 when not running
    // redis://127.0.0.1:P, rediss://… with tls, redis://:password@… with a
    // password (percent-encoded).
    QString url() const;
    // Like url() but with the ACL user: redis://aclUser:aclPassword@127.0.0.1:P.
    QString aclUrl() const;
    QString socketPath() const; // empty unless Options::unixSocket
    QString unixUrl() const;    // unix:///…/redis.sock
    QString dataDir() const;    // the server's --dir
    QString logFile() const;
    // The last lines of redis.log and of the process's own stdout/stderr.
    QString logTail(int lines = 30) const;

    // TLS files (process-wide, see TestCertificates); empty unless generated.
    QString caFile() const;
    QString clientCertFile() const;
    QString clientKeyFile() const;
    QString wrongCaFile() const;

    // One command on a fresh blocking connection (TCP or TLS, AUTH with the
    // default user's password when one is set). See rawredisclient.h for the
    // reply mapping: QByteArray / qint64 / QVariantList / invalid for nil,
    // QString "ERR:…" for server errors and "ERR:io: …" for client failures
    // (a paused server gives "ERR:io: timeout").
    QVariant command(const QList<QByteArray> &args, int timeoutMs = 5000);
    // A connected client configured like command()'s (Blocking wait mode);
    // nullptr with errorString() set when the connect fails.
    std::unique_ptr<RawRedisClient> connectClient(int timeoutMs = 5000);

private:
    friend class RedisCluster;

    void requestStop(); // the first half of stop(): SIGTERM without waiting
    bool launchOnPort(quint16 port);
    void configureClient(RawRedisClient &client) const;
    void signal(int sig);
    void setError(const QString &message);

    Options m_options;
    std::unique_ptr<QTemporaryDir> m_dir;
    QProcess *m_process = nullptr;
    quint16 m_port = 0;
    bool m_paused = false;
    bool m_portFixed = false; // restart(): the port must not change
    bool m_stopRequested = false; // SIGTERM sent (a second one makes Redis exit at once)
    QString m_errorString;
};

// N independent servers (not Redis Cluster), e.g. for a Redlock quorum.
class RedisCluster : public QObject
{
    Q_OBJECT

public:
    explicit RedisCluster(QObject *parent = nullptr);
    ~RedisCluster() override;

    // Starts n servers in parallel and waits for all of them. On failure,
    // stops those that started and returns false with errorString().
    bool start(int n, const RedisServer::Options &options = {});
    void stop();
    int size() const;
    RedisServer &at(int i);
    QStringList urls() const;
    QString errorString() const;

private:
    std::vector<std::unique_ptr<RedisServer>> m_servers;
    QString m_errorString;
};

} // namespace QRedlockTest

#endif // QREDLOCKTEST_REDISSERVER_H
