// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// SingletonJobPrivate, the schedule: the settings that decide when the job runs (their
// validation and refusal) and the occurrence timer that makes the attempts. The run itself
// is in singletonjob_p.cpp; when occurrences are is OccurrencePlan's rule.
#include "singletonjob_p.h"

#include "logging_p.h"

#include <algorithm>
#include <climits>

namespace QRedlock {

namespace {

// serverStatusChanged() comes in bursts; a catch-up attempt waits for the burst to end.
constexpr int ServersBackDelayMs = 200;

qint64 nowMs() { return QDateTime::currentMSecsSinceEpoch(); }

} // namespace

QTimeZone SingletonJobPrivate::zone() const
{
    return timeZone.isEmpty() ? QTimeZone::systemTimeZone() : QTimeZone(timeZone.toUtf8());
}

QString SingletonJobPrivate::zoneId() const
{
    return timeZone.isEmpty() ? QString::fromUtf8(QTimeZone::systemTimeZoneId()) : timeZone;
}

// What is wrong with the schedule settings (empty: nothing).
QString SingletonJobPrivate::settingsProblem() const
{
    if (!schedule.isEmpty()) {
        const CronSchedule cron(schedule);
        if (!cron.isValid())
            return QStringLiteral("schedule \"%1\" is invalid: %2").arg(schedule, cron.errorString());
        if (oncePerPeriod > 0)
            return QStringLiteral("schedule and oncePerPeriod exclude each other: set one of them");
    }
    if (!timeZone.isEmpty() && !QTimeZone(timeZone.toUtf8()).isValid())
        return QStringLiteral("timeZone \"%1\" is not a known IANA time zone id").arg(timeZone);
    return QString();
}

QString SingletonJobPrivate::validate() const
{
    if (resource.isEmpty())
        return QStringLiteral("no resource set");
    const QString settings = settingsProblem();
    if (!settings.isEmpty())
        return settings;
    LockManager *m = q->manager();
    if (!m || m->serverCount() == 0) {
        const QString why = m ? m->errorString() : QString();
        return QStringLiteral("the lock manager has no servers%1").arg(why.isEmpty() ? QString() : u": " + why);
    }
    if (lockAtMostFor < m->minimumTtl())
        return QStringLiteral("lockAtMostFor (%1 ms) is below the lock manager's minimumTtl (%2 ms)")
                .arg(lockAtMostFor).arg(m->minimumTtl());
    return QString();
}

OccurrencePlan SingletonJobPrivate::plan() const
{
    if (!settingsProblem().isEmpty())
        return OccurrencePlan();
    if (!schedule.isEmpty())
        return OccurrencePlan::cron(CronSchedule(schedule), zone());
    if (oncePerPeriod > 0)
        return OccurrencePlan::periods(oncePerPeriod);
    return OccurrencePlan();
}

void SingletonJobPrivate::refuse(const QString &message)
{
    qCWarning(lcJob).noquote() << "job" << resource << "refused a setting:" << message;
    setErrorString(message);
    Q_EMIT q->errorOccurred(message);
}

bool SingletonJobPrivate::assignDuration(qint64 &field, qint64 ms, qint64 minimum, qint64 maximum, const char *name)
{
    if (field == ms)
        return false;
    if (ms < minimum || ms > maximum) {
        refuse(QStringLiteral("%1 must be between %2 and %3 ms, got %4 ms: refused (it stays %5 ms)")
                       .arg(QLatin1String(name)).arg(minimum).arg(maximum).arg(ms).arg(field));
        return false;
    }
    field = ms;
    return true;
}

void SingletonJobPrivate::checkSettings()
{
    const QString problem = settingsProblem();
    if (!problem.isEmpty()) {
        refuse(problem);
        periodTimer.stop();
    }
    scheduleNextOccurrence();
}



void SingletonJobPrivate::startScheduling()
{
    scheduling = true;
    // Skip: occurrences from before this moment are never caught up.
    eligibleFromMs = misfirePolicy == SingletonJob::MisfirePolicy::Skip ? nowMs() : LLONG_MIN;
    missed = false;
    if (interval > 0)
        intervalTimer.start(int(interval));
    if (LockManager *m = q->manager())
        serversConnection = QObject::connect(m, &LockManager::serverStatusChanged, q, [this] { onServersChanged(); });
    scheduleNextOccurrence();
    attempt(Cause::Activation);
    if (phase == Phase::Idle && !resource.isEmpty() && q->manager() && q->manager()->serverCount() > 0)
        q->refreshRecord();
}

void SingletonJobPrivate::stopScheduling()
{
    scheduling = false;
    intervalTimer.stop();
    periodTimer.stop();
    serversTimer.stop();
    QObject::disconnect(serversConnection);
    if (phase == Phase::Acquiring || phase == Phase::Checking) {
        retryTimer.stop();
        settleTimer.stop();
        dropLock();
        setPhase(Phase::Idle);
    }
    scheduleNextOccurrence();
}

void SingletonJobPrivate::scheduleNextOccurrence()
{
    const qint64 before = nextOccurrenceMs;
    const OccurrencePlan p = plan();
    const qint64 now = nowMs();
    nextOccurrenceMs = p.hasOccurrences() ? p.nextAfter(now) : -1;
    if (scheduling && nextOccurrenceMs >= 0)
        periodTimer.start(int(std::min<qint64>(nextOccurrenceMs - now, OccurrencePlan::MaxTimerWaitMs))
                          + OccurrencePlan::TimerSlackMs);
    else
        periodTimer.stop();
    if (before != nextOccurrenceMs)
        Q_EMIT q->nextOccurrenceChanged();
}

// Timers run on the monotonic clock, occurrences on the wall clock: if the wall clock is not
// there yet, wait for it rather than take the previous occurrence's key.
void SingletonJobPrivate::onOccurrenceTimer()
{
    if (nextOccurrenceMs < 0)
        return;
    const qint64 early = nextOccurrenceMs - nowMs();
    if (early >= 0) {
        periodTimer.start(int(std::min<qint64>(early, OccurrencePlan::MaxTimerWaitMs)) + OccurrencePlan::TimerSlackMs);
        return;
    }
    attempt(Cause::Timer);
    scheduleNextOccurrence();
}

void SingletonJobPrivate::onServersChanged()
{
    if (!scheduling || !missed || misfirePolicy == SingletonJob::MisfirePolicy::Skip || serversTimer.isActive())
        return;
    serversTimer.start(ServersBackDelayMs);
}

} // namespace QRedlock
