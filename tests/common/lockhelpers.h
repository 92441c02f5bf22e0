// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Helpers of the lock tests (header-only: tests link either the shared library or the
// static one with every symbol, and this must work with both).
#pragma once

#include <QRedlock/DistributedLock>
#include <QRedlock/LockManager>

#include <QtCore/QElapsedTimer>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

namespace QRedlockTest {

// Waits until the lock reports the outcome of its acquisition (call it after acquire() or
// tryAcquire(): outcomes never arrive synchronously); true if acquired.
inline bool waitAcquired(QRedlock::DistributedLock &lock, int timeoutMs = 10000)
{
    QSignalSpy ok(&lock, &QRedlock::DistributedLock::acquired);
    QSignalSpy failed(&lock, &QRedlock::DistributedLock::acquireFailed);
    QElapsedTimer t;
    t.start();
    while (ok.isEmpty() && failed.isEmpty() && t.elapsed() < timeoutMs)
        QTest::qWait(1);
    if (ok.isEmpty() && failed.isEmpty())
        qWarning("no acquisition outcome within %d ms (state %d)", timeoutMs, int(lock.state()));
    return !ok.isEmpty();
}

// A manager of the given servers with short timeouts and retry pauses, for quick tests.
inline std::unique_ptr<QRedlock::LockManager> makeManager(const QStringList &urls, int serverTimeout = 100)
{
    auto m = std::make_unique<QRedlock::LockManager>();
    if (!m->setServers(urls))
        qFatal("setServers failed: %s", qPrintable(m->errorString()));
    m->setServerTimeout(serverTimeout);
    m->setRetryDelay(20);
    m->setRetryJitter(10);
    return m;
}

inline std::unique_ptr<QRedlock::DistributedLock> makeLock(QRedlock::LockManager *m, const QString &resource, int ttl,
                                                           bool autoExtend)
{
    auto lock = std::make_unique<QRedlock::DistributedLock>();
    lock->setManager(m);
    lock->setResource(resource);
    lock->setTtl(ttl);
    lock->setAutoExtend(autoExtend);
    return lock;
}

} // namespace QRedlockTest
