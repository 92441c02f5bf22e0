// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// DistributedLock's rounds: acquiring (attempts, retries, fencing) and holding (extension,
// expiry, loss, release). The waiting side of push coordination is distributedlock_waiting.cpp;
// the public class and its helpers are distributedlock.cpp.
#include "distributedlock_p.h"

#include "logging_p.h"

#include <algorithm>

namespace QRedlock {

// ---- acquisition -------------------------------------------------------------------------

void DistributedLockPrivate::start(bool retry)
{
    switch (state) {
    case DistributedLock::State::Locked:
    case DistributedLock::State::Acquiring:
        qCDebug(lcLock) << "acquire ignored: already" << state;
        return;
    case DistributedLock::State::Releasing:
        reacquireAfterRelease = true;
        retrying = retry;
        return;
    case DistributedLock::State::Unlocked:
        break;
    }
    leftToExpire = false;
    const QString problem = validate();
    if (!problem.isEmpty()) {
        qCWarning(lcLock).noquote() << "cannot acquire:" << problem;
        emitErrorLater(DistributedLock::Error::InvalidArgument, problem, true);
        return;
    }
    LockManager *m = q->manager();
    if (manager != m) {
        detachFromManager();
        manager = m;
    }
    if (!attached) {
        LockManagerPrivate::get(m)->clients.insert(this);
        attached = true;
    }
    keys = LockManagerPrivate::get(m)->keysFor(resources);
    waiterId.clear(); // drawn when the acquisition starts waiting
    arrivalMs = QDateTime::currentMSecsSinceEpoch();
    queued = false;
    holderPttl = -1;
    retrying = retry;
    attempts = 0;
    acquireStartNs = monotonicNs();
    setError(DistributedLock::Error::NoError, QString());
    if (fencingToken != -1) {
        fencingToken = -1;
        Q_EMIT q->fencingTokenChanged();
    }
    setState(DistributedLock::State::Acquiring);
    startAttempt();
}

void DistributedLockPrivate::startAttempt()
{
    LockManagerPrivate *mp = managerPrivate();
    if (!mp || mp->connections.empty()) {
        attemptFailed(DistributedLock::Error::Cancelled, QStringLiteral("the lock manager has no servers any more"));
        return;
    }
    ++attempts;
    newToken();
    const quint64 gen = ++generation;
    const qint64 t0 = monotonicNs();
    lastAttemptT0 = t0;
    subscribing = false;
    attemptInFlight = true;
    wokenDuringAttempt = false;
    changedDuringLook = false;
    handedBy.assign(handedBy.size(), false);
    handedCount = 0;
    // The first attempt is the plain one (the uncontended path); a waiter's attempts queue it.
    const bool queue = waitId != 0 && pushEnabled();
    queued = queued || queue;
    auto round = queue ? mp->acquireQueued(keys, token, ttl, fencing, waiterId, arrivalMs)
                       : mp->acquire(keys, token, ttl, fencing);
    QPointer<DistributedLock> self(q);
    round->onDecided = [self, gen, t0](QuorumRound &r) {
        if (self && self->d->generation == gen)
            self->d->onAcquireDecided(r, gen, t0);
    };
    trackRound(round);
}

void DistributedLockPrivate::onAcquireDecided(QuorumRound &round, quint64 gen, qint64 t0)
{
    LockManagerPrivate *mp = managerPrivate();
    const qint64 validUntil = validityEndNs(t0);
    attemptInFlight = false;
    holderPttl = -1;
    for (const QuorumRound::Server &s : round.servers)
        holderPttl = std::max(holderPttl, s.pttl);
    Q_EMIT q->serverStatusChanged();
    if (!round.succeeded()) {
        const auto fail = [](DistributedLockPrivate *d, QuorumRound &r) {
            const LockManagerPrivate *m = d->managerPrivate();
            if (m && !m->identityConflict.isEmpty()) // the set turned out to list one server twice
                d->attemptFailed(DistributedLock::Error::InvalidArgument, m->identityConflict, false);
            else
                d->attemptFailed(errorFor(r), QString(), false, &r);
        };
        // At once, on every server that did not refuse: a SET that is still on its way may
        // land. A refusal came from an atomic script (or SET NX) that set nothing of ours.
        if (mp && !token.isEmpty()) {
            std::vector<bool> send(round.servers.size());
            for (size_t i = 0; i < send.size(); ++i)
                send[i] = round.servers[i].result != QuorumRound::Result::Refused;
            mp->releaseOn(keys, token, send);
        }
        if (!round.allAnswered() && !retryAllowed(errorFor(round), mp ? mp->retryDelay : 0)) {
            // The last attempt: its error should say what every server said, not only the
            // first ones to answer (one refusal and one dead server is not yet "held
            // elsewhere"). The rest answer or time out within the server timeout.
            QPointer<DistributedLock> self(q);
            round.onComplete = [self, gen, fail](QuorumRound &r) {
                if (self && self->d->generation == gen)
                    fail(self->d.get(), r);
            };
            return;
        }
        fail(this, round);
        return;
    }
    if (round.decidedNs >= validUntil) {
        attemptFailed(DistributedLock::Error::Timeout,
                      QStringLiteral("lock '%1': a quorum granted after %2 ms, when the %3 ms TTL left no validity")
                              .arg(resources.join(u','))
                              .arg(double(round.decidedNs - t0) / NsPerMs, 0, 'f', 1)
                              .arg(ttl));
        return;
    }
    validUntilNs = validUntil;
    if (!fencing) {
        becomeLocked();
        return;
    }
    // Fencing: the next token is above every counter a quorum reported; raise the counters
    // to it on every server where we hold the keys, and count it only at quorum.
    qint64 top = 0;
    for (const QuorumRound::Server &s : round.servers) {
        if (s.result == QuorumRound::Result::Granted)
            top = std::max(top, s.counter);
    }
    const qint64 value = top + 1;
    auto raise = mp->raiseFence(keys, token, value);
    QPointer<DistributedLock> self(q);
    raise->onDecided = [self, gen, value](QuorumRound &r) {
        if (!self || self->d->generation != gen)
            return;
        DistributedLockPrivate *d = self->d.get();
        Q_EMIT self->serverStatusChanged();
        if (r.succeeded() && r.decidedNs < d->validUntilNs) {
            d->fencingToken = value;
            Q_EMIT self->fencingTokenChanged();
            d->becomeLocked();
        } else if (r.succeeded()) {
            d->attemptFailed(DistributedLock::Error::Timeout,
                             QStringLiteral("fencing round finished after the validity ran out"));
        } else {
            d->attemptFailed(errorFor(r), QStringLiteral("fencing round failed: %1").arg(d->describeRound(r)));
        }
    };
    trackRound(raise);
}

bool DistributedLockPrivate::retryAllowed(DistributedLock::Error e, int delayMs) const
{
    if (!retrying || e == DistributedLock::Error::InvalidArgument || e == DistributedLock::Error::Cancelled)
        return false;
    if (acquireTimeout >= 0) // the pause is cut to the deadline (see attemptFailed()): time left is enough
        return delayMs >= 0 && monotonicNs() < acquireStartNs + qint64(acquireTimeout) * NsPerMs;
    const LockManagerPrivate *mp = managerPrivate();
    const int retries = mp ? mp->retryCount : 0;
    // A waiter is charged in time, not in attempts: wake-ups are free (see chargedAttempts()).
    const int used = waitId != 0 && mp ? mp->chargedAttempts(monotonicNs() - acquireStartNs, attempts) : attempts;
    return retries < 0 || used <= retries;
}

void DistributedLockPrivate::attemptFailed(DistributedLock::Error e, const QString &message, bool needsCleanup,
                                          const QuorumRound *described)
{
    if (needsCleanup)
        cleanup(token, false); // every server, also those that did not answer: their SET may still land
    ++generation;
    qCDebug(lcLock).noquote() << (described ? notAcquired(*described) : message);
    if (state != DistributedLock::State::Acquiring)
        return;

    int delay = jitteredRetryDelay();
    // With acquireTimeout the last attempt goes out at the deadline rather than giving up a
    // pause before it: acquireTimeout is how long to keep trying.
    const qint64 leftMs = acquireTimeout < 0
            ? -1
            : std::max<qint64>(0, (acquireStartNs + qint64(acquireTimeout) * NsPerMs - monotonicNs()) / NsPerMs);
    if (leftMs >= 0)
        delay = int(std::min<qint64>(delay, leftMs));
    const bool again = retryAllowed(e, delay);
    if (again) {
        // Remembered, not yet reported: the next attempt may succeed. A refused round's
        // description is made when somebody reads it (it is the outcomes kept of this round).
        errorDeferred = described != nullptr;
        errorString = described ? QString() : message;
        if (e == DistributedLock::Error::Conflict && pushEnabled()) {
            if (waitId == 0) {
                // Subscribe, then try again as soon as the servers confirmed (or after a few
                // ms at most); that attempt does not count as a retry.
                --attempts;
                startWaiting();
                retryTimer.start(LockManagerPrivate::SubscribeWaitMs, Qt::PreciseTimer);
                return;
            }
            if (changedDuringLook && !wokenDuringAttempt) { // the keys changed since it read them
                startProbe();
                return;
            }
            delay = waitPause();
            attemptDueNs = monotonicNs() + qint64(delay) * NsPerMs;
        }
        startRetryTimer(delay);
        return;
    }
    endWait();
    if (queued)
        cleanup(token, true); // out of the servers' queues
    token.clear();
    Q_EMIT q->tokenChanged();
    setState(DistributedLock::State::Unlocked);
    QString text = described ? notAcquired(*described) : message;
    if (attempts > 1)
        text += QStringLiteral(" (gave up after %1 attempts in %2 ms)")
                        .arg(attempts)
                        .arg((monotonicNs() - acquireStartNs) / NsPerMs);
    setError(e, text);
    Q_EMIT q->errorOccurred(e);
    Q_EMIT q->acquireFailed();
}

void DistributedLockPrivate::becomeLocked()
{
    endWait();
    if (pushEnabled())
        watchTimer.start(LockManagerPrivate::WatchDelayMs, Qt::PreciseTimer);
    setError(DistributedLock::Error::NoError, QString()); // failed attempts before this one are history
    expiryTimer.start(msUntil(validUntilNs), Qt::PreciseTimer);
    if (autoExtend)
        scheduleExtension(lastAttemptT0);
    qCDebug(lcLock).noquote() << "acquired" << resources.join(u',') << "valid for"
                              << msUntil(validUntilNs) << "ms";
    setState(DistributedLock::State::Locked);
    Q_EMIT q->validityChanged();
    Q_EMIT q->acquired();
}

// ---- holding -----------------------------------------------------------------------------

void DistributedLockPrivate::scheduleExtension(qint64 fromNs)
{
    // Renew when a third of the TTL has passed since the lease was (re)granted.
    const qint64 at = fromNs + qint64(ttl) * NsPerMs / 3;
    extendTimer.start(msUntil(at), Qt::CoarseTimer);
}

void DistributedLockPrivate::startExtension()
{
    if (state != DistributedLock::State::Locked || extending)
        return;
    LockManagerPrivate *mp = managerPrivate();
    if (!mp || mp->connections.empty())
        return; // nothing to extend with; the expiry timer ends the lock
    extending = true;
    const quint64 gen = generation;
    const qint64 t1 = monotonicNs();
    auto round = mp->extend(keys, token, ttl, fencing ? fencingToken : 0);
    QPointer<DistributedLock> self(q);
    round->onDecided = [self, gen, t1](QuorumRound &r) {
        if (self && self->d->generation == gen)
            self->d->onExtendDecided(r, gen, t1);
    };
    trackRound(round);
}

void DistributedLockPrivate::onExtendDecided(QuorumRound &round, quint64, qint64 t1)
{
    extending = false;
    Q_EMIT q->serverStatusChanged();
    if (state != DistributedLock::State::Locked)
        return;
    LockManagerPrivate *mp = managerPrivate();
    if (round.succeeded()) {
        if (round.decidedNs >= validUntilNs) { // confirmed too late: the old lease had run out
            onExpired();
            return;
        }
        validUntilNs = validityEndNs(t1);
        expiryTimer.start(msUntil(validUntilNs), Qt::PreciseTimer);
        if (autoExtend)
            scheduleExtension(t1);
        if (round.repaired > 0)
            qCInfo(lcLock).noquote() << "lock" << resources.join(u',') << "re-created on" << round.repaired
                                     << "server(s) that had lost it";
        setError(DistributedLock::Error::NoError, QString());
        Q_EMIT q->validityChanged();
        QPointer<DistributedLock> self(q);
        notifyRemainingValidity();
        if (!self)
            return;
        Q_EMIT q->extended();
        return;
    }
    // Lost when too few servers can still confirm our token: others hold the key, or it was
    // gone (a server that restarted empty; re-creating it there does not bring back a lease
    // that other clients could have taken meanwhile).
    if (round.refused + round.repaired > round.size() - round.quorum) {
        onLost(QStringLiteral("lock '%1' lost: %2").arg(resources.join(u','), describeRound(round)));
        return;
    }
    // Servers unreachable: try again while validity remains (the expiry timer ends it otherwise).
    const QString message = QStringLiteral("extension of '%1' failed, retrying: %2")
                                    .arg(resources.join(u','), describeRound(round));
    qCInfo(lcLock).noquote() << message;
    setError(errorFor(round), message);
    Q_EMIT q->errorOccurred(error);
    const int left = msUntil(validUntilNs);
    const int delay = LockManagerPrivate::orDefaults(mp).renewalRetryDelay(left);
    if (left > delay)
        extendTimer.start(delay, Qt::PreciseTimer);
}

void DistributedLockPrivate::endHolding()
{
    // What expiry and loss share: nothing of the lease goes on, and its keys are removed
    // where they are still ours.
    endWatch();
    stopTimers();
    ++generation;
    extending = false;
    cleanup(token);
    validUntilNs = 0;
}

void DistributedLockPrivate::onExpired()
{
    if (state != DistributedLock::State::Locked)
        return;
    endHolding();
    qCInfo(lcLock).noquote() << "lock" << resources.join(u',') << "expired";
    setState(DistributedLock::State::Unlocked);
    Q_EMIT q->validityChanged();
    Q_EMIT q->expired();
}

void DistributedLockPrivate::onLost(const QString &message)
{
    endHolding();
    qCWarning(lcLock).noquote() << message;
    setError(DistributedLock::Error::Conflict, message);
    setState(DistributedLock::State::Unlocked);
    Q_EMIT q->validityChanged();
    Q_EMIT q->lost();
}

void DistributedLockPrivate::finishRelease()
{
    validUntilNs = 0;
    setError(DistributedLock::Error::NoError, QString());
    setState(DistributedLock::State::Unlocked);
    Q_EMIT q->validityChanged();
    Q_EMIT q->released();
    if (reacquireAfterRelease) {
        reacquireAfterRelease = false;
        start(retrying);
    }
}

} // namespace QRedlock
