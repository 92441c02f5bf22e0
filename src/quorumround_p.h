// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// QuorumRound: one command fanned out to every server in parallel, decided at quorum (or
// when all answered), with the slow servers' answers still recorded after the decision.
// Between the manager (which builds rounds) and the connections (which move bytes); it
// knows nothing about locks.
#pragma once

#include "redisconnection_p.h"

#include <functional>
#include <memory>
#include <vector>

namespace QRedlock {

// One command fanned out to every server, decided at quorum (or when all answered).
class QuorumRound
{
public:
    // What one server said (DistributedLock::ServerResult has the same values, in order).
    enum class Result { Pending, Granted, Refused, Timeout, Error, Repaired };
    struct Server
    {
        Result result = Result::Pending;
        RedisFailure failure = RedisFailure::None;
        qint64 latencyNs = -1;
        qint64 counter = 0;   // fencing: the server's counter before this round
        qint64 pttl = -1;     // queued acquire: the PTTL of a key held by another (-1: none)
        QByteArray serverId;  // the run_id of the server that answered
        RedisValue value;     // the reply itself, for rounds that read data (inspection)
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
    // Every recorded answer (index: the server), before the decision it may bring; a round
    // that is still deciding calls it too. For observers that keep the outcome beyond the
    // round's life (DistributedLock::serverOutcomes()).
    std::function<void(const QuorumRound &, int index)> onRecorded;
    std::function<void(QuorumRound &)> onComplete; // every server answered (or timed out), after the decision

    void record(int index, const RedisReply &reply, const QByteArray &serverId);

    // Sends the command (or the script) to every connection at once; each reply is recorded
    // with the run_id of the server that gave it. The connections outlive their callbacks.
    static void start(const std::shared_ptr<QuorumRound> &round, const std::vector<RedisConnection *> &connections,
                      const QList<QByteArray> &argv, int timeoutMs);
    static void startScript(const std::shared_ptr<QuorumRound> &round,
                            const std::vector<RedisConnection *> &connections, const RedisScript &script,
                            const QList<QByteArray> &keys, const QList<QByteArray> &args, int timeoutMs);
};

} // namespace QRedlock
