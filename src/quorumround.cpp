// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "quorumround_p.h"

namespace QRedlock {

void QuorumRound::record(int index, const RedisReply &reply, const QByteArray &serverId)
{
    Server &s = servers[size_t(index)];
    if (s.result != Result::Pending)
        return;
    s.latencyNs = monotonicNs() - startNs;
    s.failure = reply.failure;
    s.serverId = serverId;
    s.result = classify(reply, s);
    // One redis-server process reached under two URLs votes once: a later answer from the
    // same run_id counts as a failure (the manager also refuses such a set as soon as it
    // sees it; this closes the window before that).
    if (!serverId.isEmpty() && reply.ok()) {
        for (int j = 0; j < size(); ++j) {
            const Server &other = servers[size_t(j)];
            if (j != index && other.serverId == serverId && other.result != Result::Pending) {
                s.result = Result::Error;
                s.detail = QStringLiteral("the same Redis server as server %1 (run_id %2): not counted twice")
                                   .arg(j + 1).arg(QString::fromLatin1(serverId.left(12)));
                break;
            }
        }
    }
    switch (s.result) {
    case Result::Granted: ++granted; break;
    case Result::Refused: ++refused; break;
    case Result::Repaired: ++repaired; break;
    default: ++failed; break;
    }
    const bool complete = allAnswered();
    if (onRecorded)
        onRecorded(*this, index);
    if (decided) {
        if (complete && onComplete) {
            auto handler = std::move(onComplete);
            onComplete = nullptr;
            handler(*this);
        }
        return;
    }
    const bool outcomeKnown = mode == Mode::All
            ? complete
            : (granted >= quorum || refused + repaired + failed > size() - quorum);
    if (!outcomeKnown)
        return;
    decided = true;
    decidedNs = monotonicNs();
    if (onDecided) {
        // Move out first: the handler may drop the last reference to this round.
        auto handler = std::move(onDecided);
        onDecided = nullptr;
        handler(*this);
    }
}

void QuorumRound::start(const std::shared_ptr<QuorumRound> &round, const std::vector<RedisConnection *> &connections,
                        const QList<QByteArray> &argv, int timeoutMs)
{
    round->startNs = monotonicNs();
    for (int i = 0; i < int(connections.size()); ++i) {
        RedisConnection *c = connections[size_t(i)];
        c->send(argv, [round, i, c](const RedisReply &r) { round->record(i, r, c->serverId()); }, timeoutMs);
    }
}

void QuorumRound::startScript(const std::shared_ptr<QuorumRound> &round,
                              const std::vector<RedisConnection *> &connections, const RedisScript &script,
                              const QList<QByteArray> &keys, const QList<QByteArray> &args, int timeoutMs)
{
    round->startNs = monotonicNs();
    for (int i = 0; i < int(connections.size()); ++i) {
        RedisConnection *c = connections[size_t(i)];
        c->evalScript(script, keys, args, [round, i, c](const RedisReply &r) { round->record(i, r, c->serverId()); },
                      timeoutMs);
    }
}

} // namespace QRedlock
