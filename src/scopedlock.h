// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// ScopedLock: a blocking RAII Redlock lock for worker threads.
#pragma once

#include "qredlock_export.h"

#include <QtCore/QByteArray>
#include <QtCore/QFlags>
#include <QtCore/QString>

#include <chrono>
#include <memory>

namespace QRedlock {

class LockManager;
class ScopedLockPrivate;

/*!
    A blocking, scope-bound distributed lock for worker threads (QThread, QtConcurrent,
    QThreadPool), the counterpart of QMutexLocker for a Redlock lock.

    The constructor blocks the calling thread until the lock on resource is acquired or
    timeout has passed; isLocked() tells which. While held, the lease (ttl) is extended
    automatically; the destructor (or unlock()) releases it.

    \code
    // in a worker thread; manager lives in a thread with a running event loop
    using namespace std::chrono_literals;
    QRedlock::ScopedLock lock(manager, QStringLiteral("reports"), 30s, 5s);
    if (!lock.isLocked()) {
        qWarning().noquote() << lock.errorString();
        return;
    }
    writeReport();   // check lock.isLocked() before each protected write
    \endcode

    Threads: the LockManager lives in its own thread with a running event loop, and every
    network operation happens there (the ScopedLock creates a DistributedLock on the
    manager's thread and waits for it, without an event loop of its own). Constructed on
    the manager's thread, where waiting would block the very event loop it needs, a
    ScopedLock refuses at once: isLocked() is false and errorString() says why. The manager
    must outlive every ScopedLock made with it.

    A wait never lasts much longer than timeout: at most the manager's serverTimeout plus
    half a second more (the answers to the last attempt), or one second more while the
    manager's thread has not picked the request up at all (a busy or stuck thread). A wait
    that runs out cancels the acquisition on the manager's thread, which removes the keys of
    that attempt. unlock() waits likewise for the release round, never longer.

    isLocked(), errorString(), fencingToken() and token() may be called from any thread.
    isLocked() follows the validity deadline when read: it turns false once the lease ran
    out, also before the manager's thread noticed. The lock itself can be lost (the keys
    deleted or expired on a quorum of servers); check isLocked() before every protected
    step, and for correctness pass fencingToken() to the protected resource.

    Not copyable; movable. A moved-from ScopedLock holds nothing.
*/
class QREDLOCK_EXPORT ScopedLock
{
public:
    //! What the constructor with Options may add to the lock.
    enum class Option {
        NoOption = 0x0, //!< a plain lock
        Fencing = 0x1   //!< also obtain a fencing token (see DistributedLock::fencing)
    };
    //! A combination of Option values.
    Q_DECLARE_FLAGS(Options, Option)

    //! Blocks until the lock on resource is held or timeout (>= 0; 0: one attempt; above
    //! INT_MAX ms: INT_MAX) has passed. ttl is the lease, at least manager->minimumTtl();
    //! it is renewed while held. A null manager, an empty resource, a too short ttl, a
    //! negative timeout and a call on the manager's own thread are refused at once
    //! (isLocked() false, errorString() names the problem).
    ScopedLock(LockManager *manager, const QString &resource, std::chrono::milliseconds ttl,
               std::chrono::milliseconds timeout);
    //! The same with options (e.g. Option::Fencing).
    ScopedLock(LockManager *manager, const QString &resource, std::chrono::milliseconds ttl,
               std::chrono::milliseconds timeout, Options options);
    //! Releases the lock if held (see unlock()).
    ~ScopedLock();

    ScopedLock(const ScopedLock &) = delete;
    ScopedLock &operator=(const ScopedLock &) = delete;
    //! Takes over other's lock; other holds nothing afterwards.
    ScopedLock(ScopedLock &&other) noexcept;
    //! Releases this lock's own lock first, then takes over other's.
    ScopedLock &operator=(ScopedLock &&other) noexcept;

    //! True while the lock is held and its validity has not run out. Thread-safe.
    bool isLocked() const;
    //! Why the lock is not held: the refusal, the failed acquisition, or how it was lost or
    //! expired. Empty while held, and after unlock() of a held lock. Thread-safe.
    QString errorString() const;
    //! The fencing token (with Option::Fencing, once acquired), else -1. Thread-safe.
    qint64 fencingToken() const;
    //! The random value stored in Redis (hex), empty if the lock was never acquired. Thread-safe.
    QByteArray token() const;

    //! Releases the lock and waits (briefly, boundedly) until the servers answered, so that
    //! another holder can take it right after. Idempotent; nothing happens when not held.
    void unlock();

private:
    std::unique_ptr<ScopedLockPrivate> d;
};

} // namespace QRedlock

Q_DECLARE_OPERATORS_FOR_FLAGS(QRedlock::ScopedLock::Options)
