// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// DistributedLock's record of its last round: what each server answered (serverOutcomes(),
// serverStatus), and the messages and error kinds made from a round's answers.
#include "distributedlock.h"

#include "distributedlock_p.h"

#include <QtCore/QMetaEnum>

namespace QRedlock {

namespace {

// The round's per-server result as the public type (the same values, in the same order).
DistributedLock::ServerResult publicResult(QuorumRound::Result r)
{
    using P = DistributedLock::ServerResult;
    using R = QuorumRound::Result;
    static_assert(int(P::Pending) == int(R::Pending) && int(P::Granted) == int(R::Granted)
                  && int(P::Refused) == int(R::Refused) && int(P::Timeout) == int(R::Timeout)
                  && int(P::Error) == int(R::Error) && int(P::Repaired) == int(R::Repaired));
    return P(int(r));
}

// "granted", "refused", ...: the enum's own names, lower-case.
QString resultName(QuorumRound::Result r)
{
    const char *key = QMetaEnum::fromType<DistributedLock::ServerResult>().valueToKey(int(publicResult(r)));
    return key ? QString::fromLatin1(key).toLower() : QStringLiteral("unknown");
}

} // namespace

void DistributedLockPrivate::trackRound(const std::shared_ptr<QuorumRound> &round)
{
    materializeError(); // a deferred message describes the outcomes about to be replaced
    const quint64 seq = ++outcomesRound;
    outcomes.assign(size_t(round->size()), Outcome());
    outcomesQuorum = round->quorum;
    // Slow servers answer after the decision: keep serverStatus() watchers up to date.
    QPointer<DistributedLock> self(q);
    round->onRecorded = [self, seq](const QuorumRound &r, int i) {
        if (!self || self->d->outcomesRound != seq)
            return;
        const QuorumRound::Server &s = r.servers[size_t(i)];
        self->d->outcomes[size_t(i)] = { s.result, s.latencyNs, s.detail };
        if (r.decided)
            Q_EMIT self->serverStatusChanged();
    };
    Q_EMIT q->serverStatusChanged();
}

namespace {

// "2 of 3 servers granted (quorum 2): <server> <result> (<detail>); ..." for a round's
// servers or the outcomes kept of one (anything with result and detail).
template <typename Servers>
QString describeServers(const LockManagerPrivate *mp, const Servers &servers, int quorum)
{
    QStringList parts;
    int granted = 0;
    for (int i = 0; i < int(servers.size()); ++i) {
        const auto &s = servers[size_t(i)];
        granted += s.result == QuorumRound::Result::Granted ? 1 : 0;
        QString name = mp && i < mp->endpoints.size() ? mp->endpoints.at(i).toString() : QString::number(i);
        QString part = name + u' ' + resultName(s.result);
        if (s.result == QuorumRound::Result::Repaired) // a restarted server, an early expiry
            part = name + QStringLiteral(" had lost the key (re-created there, which does not count toward the quorum)");
        else if (!s.detail.isEmpty() && s.result != QuorumRound::Result::Granted) {
            // Connection errors name their server already: say it once.
            const QString prefix = name + QStringLiteral(": ");
            part += u" (" + (s.detail.startsWith(prefix) ? s.detail.mid(prefix.size()) : s.detail) + u')';
        }
        parts << part;
    }
    return QStringLiteral("%1 of %2 servers granted (quorum %3): %4")
            .arg(granted).arg(servers.size()).arg(quorum).arg(parts.join(QStringLiteral("; ")));
}

QString notAcquiredText(const QStringList &resources, const QString &why)
{
    return QStringLiteral("lock '%1' not acquired: %2").arg(resources.join(u','), why);
}

} // namespace

QString DistributedLockPrivate::describeRound(const QuorumRound &round) const
{
    return describeServers(managerPrivate(), round.servers, round.quorum);
}

QString DistributedLockPrivate::notAcquired(const QuorumRound &round) const
{
    return notAcquiredText(resources, describeRound(round));
}

void DistributedLockPrivate::materializeError() const
{
    if (!errorDeferred)
        return;
    errorDeferred = false;
    errorString = notAcquiredText(resources, describeServers(managerPrivate(), outcomes, outcomesQuorum));
}

// Why a round failed, from what the servers said. "Held elsewhere" needs a quorum of real
// answers: a refusal from one server while the others are down says nothing about whether
// the lock could have been had, so that is an outage. Credentials and protocol failures are
// named when they alone made the quorum impossible (or together with each other).
DistributedLock::Error errorFor(const QuorumRound &round)
{
    const int spare = round.size() - round.quorum;
    if (round.refused > 0 && round.granted + round.refused + round.repaired >= round.quorum)
        return DistributedLock::Error::Conflict;
    int auth = 0;
    int protocol = 0;
    for (const QuorumRound::Server &s : round.servers) {
        if (s.failure == RedisFailure::Auth)
            ++auth;
        else if (s.failure == RedisFailure::Protocol || s.failure == RedisFailure::Tls)
            ++protocol;
    }
    if (auth > spare || (auth > 0 && auth + protocol > spare && auth >= protocol))
        return DistributedLock::Error::AuthError;
    if (protocol > spare || (protocol > 0 && auth + protocol > spare))
        return DistributedLock::Error::ProtocolError;
    return DistributedLock::Error::NoQuorum;
}

QList<DistributedLock::ServerOutcome> DistributedLock::serverOutcomes() const
{
    QList<ServerOutcome> out;
    const LockManagerPrivate *mp = d->managerPrivate();
    for (int i = 0; i < int(d->outcomes.size()); ++i) {
        const DistributedLockPrivate::Outcome &s = d->outcomes[size_t(i)];
        ServerOutcome o;
        o.server = mp && i < mp->endpoints.size() ? mp->endpoints.at(i).toString() : QString();
        o.result = publicResult(s.result);
        o.latencyMs = s.latencyNs < 0 ? -1.0 : double(s.latencyNs) / NsPerMs;
        o.detail = s.detail;
        out.append(o);
    }
    return out;
}

QVariantList DistributedLock::serverStatus() const
{
    QVariantList list;
    const QList<ServerOutcome> outcomes = serverOutcomes();
    for (const ServerOutcome &o : outcomes) {
        QVariantMap m;
        m.insert(QStringLiteral("server"), o.server);
        m.insert(QStringLiteral("result"), QString::fromLatin1(QMetaEnum::fromType<ServerResult>().valueToKey(int(o.result))).toLower());
        m.insert(QStringLiteral("latencyMs"), o.latencyMs);
        m.insert(QStringLiteral("detail"), o.detail);
        list.append(m);
    }
    return list;
}

} // namespace QRedlock
