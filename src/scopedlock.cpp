// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "scopedlock.h"

#include "distributedlock.h"
#include "lockmanager.h"
#include "logging_p.h"
#include "scopedlock_p.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QThread>

#include <algorithm>
#include <climits>

namespace QRedlock {

namespace {
// How long past its timeout a ScopedLock waits before the manager's thread has answered at
// all (a busy or stuck thread), and on top of the server timeout once it has (the answers
// to the last attempt, or to the release).
constexpr int SilentManagerGraceMs = 1000;
constexpr int AnswerGraceMs = 500;

using Shared = std::shared_ptr<ScopedLockShared>;

// Manager's thread: creates the DistributedLock and follows it.
void startOnManagerThread(const Shared &s, LockManager *m, const QString &resource, int ttl, int timeout,
                          ScopedLock::Options options)
{
    {
        QMutexLocker locker(&s->mutex);
        if (s->abandoned)
            return;
        s->started = true;
        s->graceMs = m->serverTimeout() + AnswerGraceMs;
        const int minimum = m->minimumTtl();
        if (ttl < minimum) {
            s->phase = ScopedLockShared::Phase::Failed;
            s->errorString = QStringLiteral("ScopedLock TTL %1 ms is below the manager's minimum of %2 ms "
                                            "(LockManager::minimumTtl())")
                                     .arg(ttl)
                                     .arg(minimum);
            qCWarning(lcLock).noquote() << s->errorString;
            s->changed.wakeAll();
            return;
        }
    }

    auto *lock = new DistributedLock(m); // a child of the manager: never outlives it
    s->lock = lock;
    lock->setManager(m);
    lock->setResource(resource);
    lock->setTtl(ttl);
    lock->setAutoExtend(true);
    lock->setFencing(options.testFlag(ScopedLock::Option::Fencing));
    lock->setAcquireTimeout(timeout);

    QObject::connect(lock, &DistributedLock::acquired, lock, [s, lock] {
        QMutexLocker locker(&s->mutex);
        if (s->abandoned) { // the caller gave up meanwhile: do not keep what nobody holds
            locker.unlock();
            ScopedLockPrivate::finish(s);
            return;
        }
        s->phase = ScopedLockShared::Phase::Locked;
        // remainingValidity() rounds down: this deadline is never later than the lock's own.
        s->validUntil = QDeadlineTimer(lock->remainingValidity(), Qt::PreciseTimer);
        s->token = lock->token();
        s->fencingToken = lock->fencingToken();
        s->errorString.clear();
        s->changed.wakeAll();
    });
    QObject::connect(lock, &DistributedLock::acquireFailed, lock, [s, lock] {
        {
            QMutexLocker locker(&s->mutex);
            if (!s->abandoned && s->phase == ScopedLockShared::Phase::Pending) {
                s->phase = ScopedLockShared::Phase::Failed;
                s->errorString = lock->errorString();
                s->changed.wakeAll();
            }
        }
        lock->deleteLater();
    });
    QObject::connect(lock, &DistributedLock::extended, lock, [s, lock] {
        QMutexLocker locker(&s->mutex);
        if (s->phase == ScopedLockShared::Phase::Locked && !s->abandoned)
            s->validUntil = QDeadlineTimer(lock->remainingValidity(), Qt::PreciseTimer);
    });
    const auto ended = [s](const QString &why) {
        QMutexLocker locker(&s->mutex);
        if (s->phase != ScopedLockShared::Phase::Locked || s->abandoned)
            return;
        s->phase = ScopedLockShared::Phase::Failed;
        s->validUntil = QDeadlineTimer();
        s->errorString = why;
    };
    QObject::connect(lock, &DistributedLock::lost, lock, [lock, ended] { ended(lock->errorString()); });
    QObject::connect(lock, &DistributedLock::expired, lock, [lock, ended] {
        ended(QStringLiteral("lock '%1' expired: its lease ran out before an extension was confirmed")
                      .arg(lock->resource()));
    });
    QObject::connect(lock, &DistributedLock::released, lock, [s, lock] {
        {
            QMutexLocker locker(&s->mutex);
            s->released = true;
            s->changed.wakeAll();
        }
        lock->deleteLater();
    });
    lock->acquire();
}
} // namespace

void ScopedLockPrivate::onManagerThread(std::function<void()> fn) const
{
    if (manager->thread() == QThread::currentThread())
        fn();
    else
        QMetaObject::invokeMethod(manager, std::move(fn), Qt::QueuedConnection);
}

void ScopedLockPrivate::finish(const Shared &s)
{
    DistributedLock *lock = s->lock;
    if (lock) {
        lock->release(); // cancels an acquisition in progress (removing its keys) or releases
        if (lock->state() == DistributedLock::State::Releasing)
            return; // released() completes it
        lock->deleteLater();
    }
    QMutexLocker locker(&s->mutex);
    s->released = true;
    s->changed.wakeAll();
}

void ScopedLockPrivate::refuse(const QString &message)
{
    qCWarning(lcLock).noquote() << message;
    QMutexLocker locker(&s->mutex);
    s->phase = ScopedLockShared::Phase::Failed;
    s->errorString = message;
}

void ScopedLockPrivate::acquire(const QString &resource, qint64 ttlMs, qint64 timeoutMs, ScopedLock::Options options)
{
    if (!manager)
        return refuse(QStringLiteral("ScopedLock needs a LockManager, got a null pointer"));
    if (manager->thread() == QThread::currentThread())
        return refuse(QStringLiteral("ScopedLock must not be used on the LockManager's thread: it would block the "
                                     "event loop it needs"));
    if (resource.isEmpty())
        return refuse(QStringLiteral("ScopedLock needs a resource name, got an empty one"));
    if (ttlMs <= 0 || ttlMs > INT_MAX)
        return refuse(QStringLiteral("ScopedLock TTL must be between 1 and %1 ms, got %2 ms").arg(INT_MAX).arg(ttlMs));
    if (timeoutMs < 0)
        return refuse(QStringLiteral("ScopedLock timeout must be >= 0 ms, got %1 ms").arg(timeoutMs));

    const int timeout = int(std::min<qint64>(timeoutMs, INT_MAX));
    const int ttl = int(ttlMs);
    QElapsedTimer clock;
    clock.start();
    {
        QMutexLocker locker(&s->mutex);
        s->graceMs = SilentManagerGraceMs;
    }
    const Shared shared = s;
    LockManager *m = manager;
    QMetaObject::invokeMethod(
            m, [shared, m, resource, ttl, timeout, options] {
                startOnManagerThread(shared, m, resource, ttl, timeout, options);
            },
            Qt::QueuedConnection);

    QMutexLocker locker(&s->mutex);
    while (s->phase == ScopedLockShared::Phase::Pending) {
        const qint64 left = qint64(timeout) + s->graceMs - clock.elapsed();
        if (left <= 0)
            break;
        s->changed.wait(&s->mutex, QDeadlineTimer(left, Qt::PreciseTimer));
    }
    if (s->phase != ScopedLockShared::Phase::Pending)
        return;
    // Gave up: whatever the manager's thread does later ends in a release.
    s->abandoned = true;
    s->released = false;
    s->phase = ScopedLockShared::Phase::Failed;
    s->errorString = s->started
            ? QStringLiteral("lock '%1' not acquired within %2 ms: no outcome in time").arg(resource).arg(clock.elapsed())
            : QStringLiteral("lock '%1' not acquired: the LockManager's thread did not respond within %2 ms "
                             "(is its event loop running?)")
                      .arg(resource)
                      .arg(clock.elapsed());
    qCDebug(lcLock).noquote() << s->errorString;
    locker.unlock();
    onManagerThread([shared] { ScopedLockPrivate::finish(shared); });
}

// ---- ScopedLock --------------------------------------------------------------------------

ScopedLock::ScopedLock(LockManager *manager, const QString &resource, std::chrono::milliseconds ttl,
                       std::chrono::milliseconds timeout)
    : ScopedLock(manager, resource, ttl, timeout, Option::NoOption)
{
}

ScopedLock::ScopedLock(LockManager *manager, const QString &resource, std::chrono::milliseconds ttl,
                       std::chrono::milliseconds timeout, Options options)
    : d(new ScopedLockPrivate)
{
    d->manager = manager;
    d->acquire(resource, qint64(ttl.count()), qint64(timeout.count()), options);
}

ScopedLock::~ScopedLock()
{
    unlock();
}

ScopedLock::ScopedLock(ScopedLock &&other) noexcept = default;

ScopedLock &ScopedLock::operator=(ScopedLock &&other) noexcept
{
    if (this != &other) {
        unlock();
        d = std::move(other.d);
    }
    return *this;
}

bool ScopedLock::isLocked() const
{
    if (!d)
        return false;
    QMutexLocker locker(&d->s->mutex);
    return d->s->phase == ScopedLockShared::Phase::Locked && !d->s->abandoned && !d->s->validUntil.hasExpired();
}

QString ScopedLock::errorString() const
{
    if (!d)
        return QString();
    QMutexLocker locker(&d->s->mutex);
    if (d->s->phase == ScopedLockShared::Phase::Locked && !d->s->abandoned && d->s->validUntil.hasExpired())
        return QStringLiteral("the lock's validity ran out");
    return d->s->errorString;
}

qint64 ScopedLock::fencingToken() const
{
    if (!d)
        return -1;
    QMutexLocker locker(&d->s->mutex);
    return d->s->fencingToken;
}

QByteArray ScopedLock::token() const
{
    if (!d)
        return QByteArray();
    QMutexLocker locker(&d->s->mutex);
    return d->s->token;
}

void ScopedLock::unlock()
{
    if (!d)
        return;
    const Shared s = d->s;
    QMutexLocker locker(&s->mutex);
    // Nothing to do when never started (refused) or already given up / unlocked.
    if (s->abandoned || !d->manager || (s->phase == ScopedLockShared::Phase::Failed && !s->started))
        return;
    s->abandoned = true;
    s->released = false;
    const int graceMs = s->graceMs;
    locker.unlock();

    d->onManagerThread([s] { ScopedLockPrivate::finish(s); });
    if (d->manager->thread() == QThread::currentThread())
        return; // (a moved ScopedLock) waiting here would block the release it waits for

    locker.relock();
    const QDeadlineTimer deadline(graceMs, Qt::PreciseTimer);
    while (!s->released && !deadline.hasExpired())
        s->changed.wait(&s->mutex, deadline);
    if (!s->released)
        qCWarning(lcLock) << "ScopedLock::unlock(): the release did not finish within" << graceMs
                          << "ms; it goes on in the LockManager's thread";
}

} // namespace QRedlock
