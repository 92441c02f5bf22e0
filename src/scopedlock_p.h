// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The state a ScopedLock shares with the functors it runs on the LockManager's thread.
#pragma once

#include "scopedlock.h"

#include <QtCore/QDeadlineTimer>
#include <QtCore/QMutex>
#include <QtCore/QPointer>
#include <QtCore/QWaitCondition>

#include <functional>
#include <memory>

namespace QRedlock {

class DistributedLock;

// Everything below `mutex` is guarded by it, except `lock`, which only the manager's
// thread touches. Owned jointly by the ScopedLock and every functor it posted, so a
// functor that runs after the ScopedLock gave up (or is gone) still finds it.
class ScopedLockShared
{
public:
    enum class Phase { Pending, Locked, Failed };

    QMutex mutex;
    QWaitCondition changed;
    Phase phase = Phase::Pending;
    bool started = false;   // the manager's thread has run the acquiring functor
    bool abandoned = false; // the ScopedLock no longer wants the lock: release it, never keep it
    bool released = true;   // no release round is in flight
    int graceMs = 0;        // how long past the timeout the caller waits for the last attempt
    QDeadlineTimer validUntil;
    QString errorString;
    QByteArray token;
    qint64 fencingToken = -1;

    QPointer<DistributedLock> lock; // manager's thread only
};

class ScopedLockPrivate
{
public:
    // Runs fn on the manager's thread: at once when already there, else queued.
    void onManagerThread(std::function<void()> fn) const;
    void acquire(const QString &resource, qint64 ttlMs, qint64 timeoutMs, ScopedLock::Options options);
    void refuse(const QString &message);

    // Manager's thread: ends the lock (releasing it if held) once the caller abandoned it.
    static void finish(const std::shared_ptr<ScopedLockShared> &s);

    LockManager *manager = nullptr;
    std::shared_ptr<ScopedLockShared> s = std::make_shared<ScopedLockShared>();
};

} // namespace QRedlock
