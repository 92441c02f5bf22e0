// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// DistributedLock's side of push coordination (LockManager::notifications): waiting on the
// manager's release channels, and watching the keys of a held lock.
#include "distributedlock_p.h"

#include "logging_p.h"

#include <QtCore/QRandomGenerator>

namespace QRedlock {

bool DistributedLockPrivate::pushEnabled() const
{
    const LockManagerPrivate *mp = managerPrivate();
    return mp && mp->notifications && mp->notifier;
}

void DistributedLockPrivate::startWaiting()
{
    // Subscribed before the next attempt: a release after that attempt read the keys is
    // published after the subscription was confirmed, so it wakes us; a release before it
    // leaves the keys free (or reserved for us) for that attempt. Nothing falls between.
    LockManagerPrivate *mp = managerPrivate();
    subscribing = true;
    otherTurnUntilNs = 0;
    if (waiterId.isEmpty())
        waiterId = newWaiterId();
    // The wait watches the keys too (tracked once an attempt read them): a foreign client's
    // release, a key that expires or is overwritten wakes us, though nothing is published.
    // Tracking goes on before the attempt that follows the confirmation. The notifier holds
    // this as a plain pointer: the wait ends before the lock is destroyed or changes managers.
    waitGeneration = generation;
    waitId = mp->notifier->addWait(keys, this);
}

void DistributedLockPrivate::waitReady(quint64 id)
{
    if (id != waitId || generation != waitGeneration || !subscribing)
        return;
    if (state == DistributedLock::State::Acquiring && retryTimer.isActive()) {
        retryTimer.stop();
        startAttempt();
    }
}

void DistributedLockPrivate::released(quint64 id, int server, const QByteArray &payload)
{
    if (id == waitId)
        onWake(server, payload);
}

void DistributedLockPrivate::keysChanged(quint64 id, int, bool written)
{
    if (id == waitId)
        onWaitKeysChanged();
    else if (id == watchId)
        onKeysChanged(written);
}

QByteArray DistributedLockPrivate::newWaiterId()
{
    // Distinct among the waiters of a resource; the queue orders ties by it. Sixteen hex
    // digits in a block of exactly that size: it lives as long as the wait.
    quint64 id = QRandomGenerator::global()->generate64();
    QByteArray text(16, Qt::Uninitialized);
    for (int i = 15; i >= 0; --i, id >>= 4)
        text[i] = "0123456789abcdef"[id & 0xf];
    return text;
}

void DistributedLockPrivate::endWait()
{
    subscribing = false;
    probing = false;
    LockManagerPrivate *mp = managerPrivate();
    if (waitId == 0)
        return;
    if (mp)
        mp->notifier->removeWait(waitId);
    waitId = 0;
}

bool DistributedLockPrivate::pushCovered() const
{
    // Taking the lock needs a change on a quorum of servers; every quorum includes a
    // covered server when more than size - quorum are covered, so we hear of that change.
    const LockManagerPrivate *mp = managerPrivate();
    if (waitId == 0 || !pushEnabled())
        return false;
    const int n = mp->notifier->serverCount();
    return n > 0 && coveredServers() > n - mp->quorum();
}

int DistributedLockPrivate::coveredServers() const
{
    const LockManagerPrivate *mp = managerPrivate();
    int covered = 0;
    for (int i = 0; mp && waitId != 0 && i < mp->notifier->serverCount(); ++i)
        covered += mp->notifier->covers(waitId, i) ? 1 : 0;
    return covered;
}

int DistributedLockPrivate::waitPause() const
{
    // Woken while that attempt (or look) was out: the change may have come after it read
    // the keys. Otherwise the holder's PTTL, or the safety net (retryDelay when not pushed).
    const LockManagerPrivate *mp = managerPrivate();
    qint64 delay = wokenDuringAttempt ? 0 : mp->waitRetryDelay(holderPttl, pushCovered());
    const qint64 now = monotonicNs();
    // acquireTimeout, else retryCount in time: the last attempt at that deadline.
    const qint64 patience = acquireTimeout >= 0 ? qint64(acquireTimeout) * 1000000 : mp->patienceNs();
    if (patience >= 0)
        delay = std::min<qint64>(delay, std::max<qint64>(0, (acquireStartNs + patience - now + 999999) / 1000000));
    return int(delay);
}

void DistributedLockPrivate::startRetryTimer(int ms)
{
    retryDueNs = monotonicNs() + qint64(ms) * 1000000;
    retryTimer.start(ms, Qt::PreciseTimer);
}

void DistributedLockPrivate::onWaitKeysChanged()
{
    // Before the first queued attempt (subscribing) that attempt reads the keys anyway.
    if (state != DistributedLock::State::Acquiring || waitId == 0 || subscribing)
        return;
    // Our turn was published (the attempt follows), or another's: nothing to look at.
    if (handedCount > 0 || monotonicNs() < otherTurnUntilNs)
        return;
    if (attemptInFlight || probing) {
        changedDuringLook = true; // the change may have come after that look read the keys
        return;
    }
    if (!retryTimer.isActive())
        return;
    retryTimer.stop();
    startProbe();
}

void DistributedLockPrivate::startProbe()
{
    LockManagerPrivate *mp = managerPrivate();
    if (keys.size() != 1 || !mp || mp->connections.empty()) {
        startAttempt(); // several keys: the attempt is the look
        return;
    }
    // A look (PTTL, which tracks the key again) rather than an attempt: most changes are the
    // holder's extensions (each server reports its own), and every waiter would run the
    // queue script for them.
    probing = true;
    wokenDuringAttempt = false;
    changedDuringLook = false;
    const quint64 gen = ++generation;
    auto round = mp->probe(keys.constFirst());
    QPointer<DistributedLock> self(q);
    round->onDecided = [self, gen](QuorumRound &r) {
        if (self && self->d->generation == gen)
            self->d->onProbeDecided(r);
    };
}

void DistributedLockPrivate::onProbeDecided(QuorumRound &round)
{
    probing = false;
    if (state != DistributedLock::State::Acquiring)
        return;
    if (round.succeeded() || wokenDuringAttempt) { // free on a quorum, or a release was published
        startAttempt();
        return;
    }
    if (changedDuringLook) { // changed again, perhaps after this look read it
        startProbe();
        return;
    }
    holderPttl = -1;
    for (const QuorumRound::Server &s : round.servers) {
        if (s.result == QuorumRound::Result::Refused)
            holderPttl = std::max(holderPttl, s.pttl);
    }
    // No later than the attempt the last one scheduled: attempts refresh our queue entries.
    const qint64 dueMs = std::max<qint64>(0, (attemptDueNs - monotonicNs()) / 1000000);
    startRetryTimer(int(std::min<qint64>(waitPause(), dueMs)));
}

int DistributedLockPrivate::handoffQuorum() const
{
    // A quorum of the servers that can tell us (subscribed and tracking); at least one.
    const LockManagerPrivate *mp = managerPrivate();
    if (!mp || waitId == 0)
        return 1;
    return std::max(1, std::min(coveredServers(), mp->quorum()));
}

void DistributedLockPrivate::onWake(int server, const QByteArray &payload)
{
    if (state != DistributedLock::State::Acquiring)
        return;
    // The release reserved the keys for another waiter: its turn, not ours, until its
    // reservation ends at the latest (a dead head's turn passes then).
    if (!payload.isEmpty() && payload != waiterId) {
        const LockManagerPrivate *mp = managerPrivate();
        const int hold = mp ? mp->reservationMs() + 1 : 0;
        otherTurnUntilNs = monotonicNs() + qint64(hold) * NsPerMs;
        if (!attemptInFlight && !probing && !subscribing && retryTimer.isActive() && retryDueNs > otherTurnUntilNs)
            startRetryTimer(hold);
        return;
    }
    otherTurnUntilNs = 0;
    if (probing) {
        wokenDuringAttempt = true; // the look's decision starts the attempt
        return;
    }
    if (attemptInFlight) {
        wokenDuringAttempt = true; // that attempt may have been read before the release
        return;
    }
    if (!retryTimer.isActive())
        return;
    if (!payload.isEmpty() && server >= 0) {
        // Handed to us: by a quorum of the servers first (or after a short grace), so that
        // the attempt finds our reservations there and not the old holder's keys.
        if (size_t(server) >= handedBy.size())
            handedBy.resize(size_t(server) + 1);
        if (!handedBy[size_t(server)]) {
            handedBy[size_t(server)] = true;
            ++handedCount;
        }
        if (handedCount < handoffQuorum()) {
            const qint64 graceNs = qint64(LockManagerPrivate::HandoffGraceMs) * NsPerMs;
            if (handedCount == 1 && retryDueNs > monotonicNs() + graceNs)
                startRetryTimer(LockManagerPrivate::HandoffGraceMs);
            return;
        }
    }
    retryTimer.stop(); // a reconnect or an operator's release: anyone may try now
    startAttempt();
}

void DistributedLockPrivate::startWatch()
{
    if (watchId != 0 || !pushEnabled())
        return;
    watchId = managerPrivate()->notifier->addWatch(keys, this); // see startWaiting()
}

void DistributedLockPrivate::onWatchTimer()
{
    if (state != DistributedLock::State::Locked)
        return;
    startWatch();
    readWatchedKeys();
}

void DistributedLockPrivate::endWatch()
{
    watchTimer.stop();
    checking = false;
    recheck = false;
    if (watchId == 0)
        return;
    if (LockManagerPrivate *mp = managerPrivate())
        mp->notifier->removeWatch(watchId);
    watchId = 0;
}

void DistributedLockPrivate::readWatchedKeys()
{
    LockManagerPrivate *mp = managerPrivate();
    if (watchId == 0 || !mp || mp->connections.empty())
        return;
    if (keys.size() != 1) {
        onKeysChanged(); // the check reads every key
        return;
    }
    const quint64 gen = generation;
    auto round = mp->readKey(keys.constFirst());
    QPointer<DistributedLock> self(q);
    round->onDecided = [self, gen](QuorumRound &r) {
        if (!self || self->d->generation != gen)
            return;
        for (const QuorumRound::Server &s : r.servers) {
            if (s.result == QuorumRound::Result::Granted && s.value.string != self->d->token) {
                self->d->onKeysChanged(); // changed before it was tracked
                return;
            }
        }
    };
}

void DistributedLockPrivate::onKeysChanged(bool written)
{
    if (state != DistributedLock::State::Locked)
        return;
    if (checking) {
        recheck = true; // the change may have come after that round read the keys
        recheckWritten = recheckWritten || written;
        return;
    }
    LockManagerPrivate *mp = managerPrivate();
    if (!mp || mp->connections.empty())
        return;
    checking = true;
    recheck = false;
    recheckWritten = false;
    const quint64 gen = generation;
    auto round = mp->check(keys, token);
    QPointer<DistributedLock> self(q);
    round->onDecided = [self, gen, written](QuorumRound &r) {
        if (!self || self->d->generation != gen)
            return;
        DistributedLockPrivate *d = self->d.get();
        d->checking = false;
        if (d->state != DistributedLock::State::Locked)
            return;
        // Some keys gone but a quorum still confirms ours: a renewed lock repairs at once (an
        // extension re-creates keys lost with a restarted server), so that in a rolling restart
        // the first server is repaired before the second goes down. Not when a live server
        // reported the write (written): that is another client's, such as an operator's
        // release reaching the servers one after another, which a repair of each in turn
        // would undo for good; the next extension repairs it if the quorum lasts. Without a
        // quorum the lock is lost below, and nothing is re-created.
        if (r.refused > 0 && r.refused <= r.size() - r.quorum && d->autoExtend && !written) {
            d->startExtension();
            return;
        }
        // Too few servers still hold our token: keeping the lock is impossible.
        if (r.refused > r.size() - r.quorum) {
            d->onLost(QStringLiteral("lock '%1' lost: its keys were changed by another client or lost with a "
                                     "server (%2)")
                              .arg(d->resources.join(u','), d->describeRound(r)));
            return;
        }
        if (d->recheck)
            d->onKeysChanged(d->recheckWritten);
    };
}

} // namespace QRedlock
