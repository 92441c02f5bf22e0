// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// OccurrencePlan: when a SingletonJob's occurrences are (a cron schedule in a time zone, or
// periods aligned to the Unix epoch) and the scheduling policy around them: how late a
// timer may fire and still be on time, how long a job record is kept. Every rule once, here.
#pragma once

#include "cronschedule.h"

#include <QtCore/QTimeZone>

namespace QRedlock {

class OccurrencePlan
{
public:
    enum class Mode { None, Period, Cron };

    // How late (ms) an occurrence's timer may fire and the occurrence still count as on
    // time (a loaded machine, a slow event loop); later than that it is a misfire.
    static constexpr qint64 LateSlackMs = 5000;
    // The longest single wait of the occurrence timer: the wall clock is checked at least
    // this often (monotonic timers stand still while the machine sleeps).
    static constexpr int MaxTimerWaitMs = 60000;
    // The timer fires this long after the computed instant, so that the wall clock is surely
    // there when the occurrence is derived from it.
    static constexpr int TimerSlackMs = 2;
    // The shortest lifetime of a job record on the servers (see recordTtlMs()).
    static constexpr qint64 MinRecordTtlMs = 7LL * 24 * 3600 * 1000;
    // The longest oncePerPeriod and misfireGrace: ten years.
    static constexpr qint64 MaxPeriodMs = 3653LL * 24 * 3600 * 1000;

    OccurrencePlan() = default;
    static OccurrencePlan periods(qint64 periodMs);
    static OccurrencePlan cron(const CronSchedule &schedule, const QTimeZone &zone);

    Mode mode() const { return m_mode; }
    bool hasOccurrences() const { return m_mode != Mode::None; }

    // How old an occurrence may be when an attempt is made for it: in period mode the whole
    // period (a run may start at any time during its period); for a schedule misfireGrace,
    // and at least LateSlackMs when the attempt is the occurrence's own timer.
    qint64 horizonMs(qint64 misfireGraceMs, bool fromTimer) const;
    // The first occurrence strictly after afterMs (ms since the epoch); -1 when none.
    qint64 nextAfter(qint64 afterMs) const;
    // The latest occurrence at or before nowMs that is at most horizonMs old; -1 when none.
    qint64 latestAtOrBefore(qint64 nowMs, qint64 horizonMs) const;
    // How long the record of a run of occurrenceMs is kept: long enough to outlive the
    // schedule's period (the time to the next occurrence) twice plus the misfire grace, and
    // at least MinRecordTtlMs, so that every instance (catch-up included) still sees it.
    qint64 recordTtlMs(qint64 occurrenceMs, qint64 misfireGraceMs) const;

private:
    Mode m_mode = Mode::None;
    qint64 m_periodMs = 0;
    CronSchedule m_schedule;
    QTimeZone m_zone;
};

} // namespace QRedlock
