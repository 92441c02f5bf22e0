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
    QPointer<DistributedLock> self(q);
    const quint64 gen = generation;
    subscribing = true;
    if (waiterId.isEmpty()) {
        // Distinct among the waiters of a resource; the queue orders ties by it.
        const quint64 id = QRandomGenerator::global()->generate64();
        waiterId = QByteArray::number(id, 16).rightJustified(16, '0');
    }
    waitId = mp->notifier->addWait(
            LockManagerPrivate::channelsFor(keys),
            [self, gen] {
                if (!self || self->d->generation != gen || !self->d->subscribing)
                    return;
                DistributedLockPrivate *d = self->d.get();
                if (d->state == DistributedLock::State::Acquiring && d->retryTimer.isActive()) {
                    d->retryTimer.stop();
                    d->startAttempt();
                }
            },
            [self](const QByteArray &payload) {
                if (self)
                    self->d->onWake(payload);
            });
}

void DistributedLockPrivate::endWait()
{
    subscribing = false;
    if (waitId == 0)
        return;
    if (LockManagerPrivate *mp = managerPrivate())
        mp->notifier->removeWait(waitId);
    waitId = 0;
}

void DistributedLockPrivate::onWake(const QByteArray &payload)
{
    if (state != DistributedLock::State::Acquiring)
        return;
    // The release reserved the keys for another waiter: its turn, not ours.
    if (!payload.isEmpty() && payload != waiterId)
        return;
    if (attemptInFlight) {
        wokenDuringAttempt = true; // that attempt may have been read before the release
        return;
    }
    if (retryTimer.isActive()) {
        retryTimer.stop();
        startAttempt();
    }
}

void DistributedLockPrivate::startWatch()
{
    if (watchId != 0 || !pushEnabled())
        return;
    QPointer<DistributedLock> self(q);
    watchId = managerPrivate()->notifier->addWatch(keys, [self](int) {
        if (self)
            self->d->onKeysChanged();
    });
}

void DistributedLockPrivate::endWatch()
{
    checking = false;
    recheck = false;
    if (watchId == 0)
        return;
    if (LockManagerPrivate *mp = managerPrivate())
        mp->notifier->removeWatch(watchId);
    watchId = 0;
}

void DistributedLockPrivate::onKeysChanged()
{
    if (state != DistributedLock::State::Locked)
        return;
    if (checking) {
        recheck = true; // the change may have come after that round read the keys
        return;
    }
    LockManagerPrivate *mp = managerPrivate();
    if (!mp || mp->connections.empty())
        return;
    checking = true;
    recheck = false;
    const quint64 gen = generation;
    auto round = mp->check(keys, token);
    QPointer<DistributedLock> self(q);
    round->onDecided = [self, gen](QuorumRound &r) {
        if (!self || self->d->generation != gen)
            return;
        DistributedLockPrivate *d = self->d.get();
        d->checking = false;
        if (d->state != DistributedLock::State::Locked)
            return;
        // Some keys gone but a quorum still confirms ours: a renewed lock repairs at once (an
        // extension re-creates keys lost with a restarted server), so that in a rolling restart
        // the first server is repaired before the second goes down. Without a quorum the lock
        // is lost below, and nothing is re-created (an operator's forceRelease stays done).
        if (r.refused > 0 && r.refused <= r.size() - r.quorum && d->autoExtend) {
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
            d->onKeysChanged();
    };
}

} // namespace QRedlock
