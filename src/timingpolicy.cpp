// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The timing policy of the locks, in one place: retry pauses and their jitter, the TTL that
// covers a hold, the shortest renewable TTL, the drift allowance, and how long waiters wait
// (the pushed waiter's safety net, queue-entry and reservation lives, retries counted in
// time). The constants they use are declared in lockmanager_p.h.
#include "lockmanager_p.h"

#include <QtCore/QRandomGenerator>

#include <algorithm>
#include <climits>
#include <cmath>

namespace QRedlock {

const LockManagerPrivate &LockManagerPrivate::orDefaults(const LockManagerPrivate *mp)
{
    static const LockManagerPrivate defaults(nullptr);
    return mp ? *mp : defaults;
}

int LockManagerPrivate::jitteredRetryDelay(int minimumJitter) const
{
    const int jitter = std::max(retryJitter, minimumJitter);
    const int delta = jitter > 0 ? int(QRandomGenerator::global()->bounded(2 * jitter + 1)) - jitter : 0;
    return std::max(0, retryDelay + delta);
}

int LockManagerPrivate::ttlCovering(qint64 holdMs) const
{
    // validity = ttl - (ttl * driftFactor + 2 ms), solved for ttl, one ms to spare.
    const double ttl = std::ceil(double(holdMs + 2) / (1.0 - driftFactor)) + 1.0;
    return ttl >= double(INT_MAX) ? INT_MAX : int(ttl);
}

int LockManagerPrivate::renewalRetryDelay(int leftMs) const
{
    return std::clamp(std::min(retryDelay, leftMs / 4), 5, 1000);
}

int LockManagerPrivate::minimumTtl() const
{
    // A lease must outlive a few server timeouts after its clock-drift allowance, or it can
    // never be renewed in time: 4 x serverTimeout + (ttl x driftFactor + 2 ms), solved for ttl.
    return int(std::ceil((4.0 * serverTimeout + 2.0) / (1.0 - driftFactor)));
}

qint64 LockManagerPrivate::driftMarginNs(int ttlMs) const
{
    return qint64(std::llround(double(ttlMs) * driftFactor * 1e6)) + 2 * 1000000;
}

// ---- waiting ----

int LockManagerPrivate::waitSafetyNet() const
{
    return std::max(WaitSafetyNetMs, retryDelay + retryJitter);
}

int LockManagerPrivate::waiterEntryTtl() const
{
    return waitSafetyNet() + 2 * serverTimeout + 100;
}

int LockManagerPrivate::reservationMs() const
{
    return 2 * (retryDelay + retryJitter + serverTimeout) + 100;
}

int LockManagerPrivate::waitRetryDelay(qint64 holderPttlMs, bool pushed) const
{
    int delay = jitteredRetryDelay();
    if (pushed) {
        const int net = waitSafetyNet();
        delay = std::max(delay, net - int(QRandomGenerator::global()->bounded(net / 4 + 1)));
    }
    return holderPttlMs >= 0 && holderPttlMs + 1 < delay ? int(holderPttlMs + 1) : delay;
}

int LockManagerPrivate::chargedAttempts(qint64 waitedNs, int madeAttempts) const
{
    if (retryDelay <= 0)
        return madeAttempts;
    return int(std::min<qint64>(INT_MAX, 1 + waitedNs / (qint64(retryDelay) * 1000000)));
}

qint64 LockManagerPrivate::patienceNs() const
{
    if (retryCount < 0 || retryDelay <= 0)
        return -1;
    return qint64(retryCount) * retryDelay * 1000000;
}

} // namespace QRedlock
