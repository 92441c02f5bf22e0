// Private parts of LockManager: servers, scripts and the quorum round engine.
#pragma once

#include "distributedlock.h"
#include "lockmanager.h"
#include "redisconnection_p.h"

#include <functional>
#include <memory>
#include <vector>

namespace QRedlock {

// One command fanned out to every server, decided at quorum (or when all answered).
class QuorumRound
{
public:
    using Result = DistributedLock::ServerOutcome::Result;
    struct Server
    {
        Result result = Result::Pending;
        RedisFailure failure = RedisFailure::None;
        qint64 latencyNs = -1;
        qint64 counter = 0;   // fencing: the server's counter before this round
        QByteArray serverId;  // the run_id of the server that answered
        QString detail;
    };
    enum class Mode { Quorum, All };

    // Classifies one reply; sets counter/detail as needed.
    using Classifier = Result (*)(const RedisReply &reply, Server &server);

    QuorumRound(int n, int quorum, Mode mode, Classifier classify)
        : quorum(quorum), mode(mode), classify(classify), servers(size_t(n))
    {
    }

    int size() const { return int(servers.size()); }
    bool succeeded() const { return granted >= quorum; }
    bool allAnswered() const { return granted + refused + repaired + failed == size(); }

    const int quorum;
    const Mode mode;
    const Classifier classify;
    std::vector<Server> servers;
    qint64 startNs = 0;
    qint64 decidedNs = 0;
    int granted = 0;
    int refused = 0;
    int repaired = 0;   // extension: the key was absent and re-created (not counted toward quorum)
    int failed = 0;
    bool decided = false;
    std::function<void(QuorumRound &)> onDecided;
    std::function<void()> onLateReply; // a server answered after the decision (diagnostics)
    std::function<void(QuorumRound &)> onComplete; // every server answered (or timed out), after the decision

    void record(int index, const RedisReply &reply, const QByteArray &serverId);
};

class LockManagerPrivate
{
public:
    explicit LockManagerPrivate(LockManager *q);

    static LockManagerPrivate *get(LockManager *m) { return m->d.get(); }

    bool setError(const QString &message);
    bool validateAndBuild(const QStringList &urls, QList<RedisEndpoint> *endpoints);
    void rebuildConnections();
    RedisConnection::Options connectionOptions() const;

    int quorum() const { return int(connections.size()) / 2 + 1; }
    int minimumTtl() const;
    void checkServerIdentities();
    qint64 driftMarginNs(int ttlMs) const;
    QList<QByteArray> keysFor(const QStringList &resources) const;

    // Round kinds. Keys are full Redis keys (prefix applied).
    std::shared_ptr<QuorumRound> acquire(const QList<QByteArray> &keys, const QByteArray &token, int ttlMs,
                                         bool fencing);
    std::shared_ptr<QuorumRound> raiseFence(const QList<QByteArray> &keys, const QByteArray &token, qint64 value);
    // fencingToken > 0: repairs only where the counters are not above it, and raises them.
    std::shared_ptr<QuorumRound> extend(const QList<QByteArray> &keys, const QByteArray &token, int ttlMs,
                                        qint64 fencingToken);
    std::shared_ptr<QuorumRound> release(const QList<QByteArray> &keys, const QByteArray &token);

    // Starts the round on every server; onDecided runs once, through the event loop.
    void run(const std::shared_ptr<QuorumRound> &round, const QList<QByteArray> &argv);
    void runScript(const std::shared_ptr<QuorumRound> &round, const RedisScript &script,
                   const QList<QByteArray> &keys, const QList<QByteArray> &args);

    LockManager *q;
    QStringList urls;
    QList<RedisEndpoint> endpoints;
    std::vector<RedisConnection *> connections;
    double driftFactor = 0.01;
    int serverTimeout = 250;
    int retryCount = 10;
    int retryDelay = 200;
    int retryJitter = 100;
    QString keyPrefix;
    QString errorString;
    QString identityConflict;   // two entries answered with the same run_id

    const RedisScript acquireMultiScript;
    const RedisScript acquireFencedScript;
    const RedisScript raiseFenceScript;
    const RedisScript extendScript;
    const RedisScript releaseScript;
};

} // namespace QRedlock
