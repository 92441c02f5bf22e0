// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Small helpers shared by the safety runner and the worker.
#pragma once

#include <QRandomGenerator>

#include <ctime>

namespace QRedlockSafety {

constexpr qint64 NsPerMs = 1000000;

// Any clock in nanoseconds. CLOCK_MONOTONIC is shared by every process of the machine, so
// the runner and the workers can compare their times.
inline qint64 clockNs(clockid_t id)
{
    timespec ts{};
    clock_gettime(id, &ts);
    return qint64(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

inline qint64 monotonicNs() { return clockNs(CLOCK_MONOTONIC); }

// A generator seeded with all 64 bits of seed (and a salt, e.g. a worker number).
inline QRandomGenerator seededGenerator(quint64 seed, quint32 salt = 0)
{
    const quint32 words[3] = { quint32(seed), quint32(seed >> 32), salt };
    return QRandomGenerator(words);
}

} // namespace QRedlockSafety
