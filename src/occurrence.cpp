// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "occurrence_p.h"

#include <QtCore/QDateTime>

#include <algorithm>

namespace QRedlock {

OccurrencePlan OccurrencePlan::periods(qint64 periodMs)
{
    OccurrencePlan p;
    p.m_mode = Mode::Period;
    p.m_periodMs = periodMs;
    return p;
}

OccurrencePlan OccurrencePlan::cron(const CronSchedule &schedule, const QTimeZone &zone)
{
    OccurrencePlan p;
    p.m_mode = Mode::Cron;
    p.m_schedule = schedule;
    p.m_zone = zone;
    return p;
}

qint64 OccurrencePlan::horizonMs(qint64 misfireGraceMs, bool fromTimer) const
{
    if (m_mode == Mode::Period)
        return m_periodMs - 1;
    return fromTimer ? std::max(misfireGraceMs, LateSlackMs) : misfireGraceMs;
}

qint64 OccurrencePlan::nextAfter(qint64 afterMs) const
{
    switch (m_mode) {
    case Mode::None: return -1;
    case Mode::Period: return (afterMs / m_periodMs + 1) * m_periodMs;
    case Mode::Cron: {
        const QDateTime t = m_schedule.next(QDateTime::fromMSecsSinceEpoch(afterMs, Qt::UTC), m_zone);
        return t.isValid() ? t.toMSecsSinceEpoch() : -1;
    }
    }
    return -1;
}

qint64 OccurrencePlan::latestAtOrBefore(qint64 nowMs, qint64 horizonMs) const
{
    switch (m_mode) {
    case Mode::None: return -1;
    case Mode::Period: {
        const qint64 start = nowMs / m_periodMs * m_periodMs;
        return nowMs - start <= horizonMs ? start : -1;
    }
    case Mode::Cron: break;
    }
    // CronSchedule only looks forward: find a window before now that holds an occurrence,
    // doubling it from one second up to the horizon, then walk forward to the latest one.
    for (qint64 window = 1000;; window = std::min(window * 2, horizonMs + 1)) {
        qint64 t = nextAfter(nowMs - window);
        if (t >= 0 && t <= nowMs) {
            for (int steps = 0; steps < 100000; ++steps) {
                const qint64 n = nextAfter(t);
                if (n < 0 || n > nowMs)
                    break;
                t = n;
            }
            return nowMs - t <= horizonMs ? t : -1;
        }
        if (window > horizonMs)
            return -1;
    }
}

qint64 OccurrencePlan::recordTtlMs(qint64 occurrenceMs, qint64 misfireGraceMs) const
{
    const qint64 next = nextAfter(occurrenceMs);
    const qint64 period = next > occurrenceMs ? next - occurrenceMs : 0;
    return std::max(MinRecordTtlMs, 2 * period + misfireGraceMs);
}

} // namespace QRedlock
