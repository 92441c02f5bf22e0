// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "qredlockqmltypes.h"

#include <cmath>
#include <limits>

namespace QRedlockQml {

QmlLockManager::QmlLockManager(QObject *parent) : QRedlock::LockManager(parent) { }

QmlDistributedLock::QmlDistributedLock(QObject *parent) : QRedlock::DistributedLock(parent) { }

QmlSingletonJob::QmlSingletonJob(QObject *parent) : QRedlock::SingletonJob(parent) { }

qint64 QmlSingletonJob::toMs(double ms)
{
    if (std::isnan(ms))
        return -1; // refused by every setter, with its message
    if (ms >= 9.0e18)
        return std::numeric_limits<qint64>::max();
    if (ms <= -9.0e18)
        return std::numeric_limits<qint64>::min();
    return qint64(std::llround(ms));
}

} // namespace QRedlockQml
