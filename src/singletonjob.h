// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// SingletonJob: runs a job on one application instance at a time, over a DistributedLock.
#pragma once

#include "lockmanager.h"
#include "qredlock_export.h"

#include <QtCore/QDateTime>
#include <QtCore/QDeadlineTimer>
#include <QtCore/QObject>
#include <QtCore/QString>
#include <QtCore/QVariantMap>

#include <chrono>
#include <functional>
#include <memory>

namespace QRedlock {

class SingletonJob;
class SingletonJobPrivate;
class JobContextState;

/*!
    What a C++ job callable receives (see SingletonJob::setJob()). A cheap handle to one run:
    copies share the run, and every member is thread-safe, so a copy may go to a worker
    thread. The job polls isCancelled() and, once done, calls finish() or fail() exactly
    once (later calls are ignored; calls after the run was cancelled are ignored too).
*/
class QREDLOCK_EXPORT JobContext
{
public:
    //! A context attached to no run: isCancelled() is true, finish() and fail() do nothing.
    JobContext();

    //! True once the run must stop: the lock was lost or expired, lockAtMostFor ran out,
    //! cancelRun() was called, or the SingletonJob went away. Safe to poll from any thread.
    bool isCancelled() const;
    //! The latest moment the run may last (its start + lockAtMostFor).
    QDeadlineTimer deadline() const;
    //! The occurrence this run is for (UTC): the cron fire time (schedule) or the period's
    //! start (oncePerPeriod); the run's start otherwise. Invalid when attached to no run.
    QDateTime occurrence() const;
    //! The lock's fencing token (SingletonJob::fencing); -1 when fencing is off.
    qint64 fencingToken() const;
    //! The lock's token (DistributedLock::token(): the value on the servers); empty when
    //! attached to no run.
    QByteArray token() const;

    //! The run succeeded (from any thread; the first of finish() and fail() counts).
    void finish();
    //! The run failed for reason (from any thread; the first of finish() and fail() counts).
    void fail(const QString &reason);

private:
    friend class SingletonJobPrivate;
    explicit JobContext(std::shared_ptr<JobContextState> state);
    std::shared_ptr<JobContextState> d;
};

/*!
    Runs a job on exactly one of many application instances at a time.

    Each attempt takes a DistributedLock on the resource (one attempt, no waiting); the
    instance that gets it emits run() (and calls the job callable, if set) while the others
    emit skipped(). The lock's lease is lockAtMostFor, auto-extended while the job runs;
    the job ends with finish() or fail(reason). It is cancelled (cancelled(), and
    JobContext::isCancelled() turns true) when the lock is lost, when the lease is about to
    run out without a confirmed extension, or when the run lasts longer than lockAtMostFor.

    Modes:
    - schedule (a CronSchedule expression, in timeZone): one run per fire time, the
      occurrence.
    - oncePerPeriod > 0: one run per period; periods are aligned to the Unix epoch (UTC),
      the occurrence is the period's start. schedule and oncePerPeriod are exclusive.
    - neither: every attempt may run (interval > 0 makes one every interval ms).
    With interval > 0 in the first two modes, instances also retry within the occurrence,
    which lets another one take over when no instance got the lock at the fire time.

    One occurrence, one key: the lock of an occurrence is taken on the resource
    `<resource>:at:<ms>` (ms = the occurrence's instant in ms since the Unix epoch, UTC;
    the manager's keyPrefix comes first, as for any lock). Every instance derives the same
    key from the same instant whatever its clock says now, so instances whose clocks
    differ still compete for one key. Before running, the winner reads the job record (see
    lastRecord) from a quorum; an occurrence whose record says it ran (any outcome, or
    `running` left by a holder that vanished) is not run again, unless retryFailedRuns is
    set and it failed. The run starts only once its `running` record is on a quorum, so an
    occurrence runs at most once while the servers keep their data; and at least once while
    any instance is up at its fire time (or, with misfirePolicy RunOnce, comes up within
    misfireGrace after it).

    lockAtLeastFor keeps the lock at least this long after the start of a run, even when
    the job finished sooner, so that instances whose clocks or timers are a little off do
    not even compete again. A finished run's lock is never released early: its lease
    is cut to what is left of the hold and expires on the servers by itself (in occurrence
    modes it is kept until the next occurrence plus lockAtLeastFor).

    Durations are ms (qint64). A refused value (negative; lockAtMostFor below the
    manager's minimumTtl() or, as interval, lockAtMostFor and lockAtLeastFor, above
    2^31 - 1 ms, the longest lease and timer; oncePerPeriod and misfireGrace above ten
    years) is not stored: the old value stays, errorString says why and errorOccurred() is
    emitted. An invalid schedule or timeZone is stored as given, but the job makes no
    attempts (trigger() included) until it is corrected: errorString says why and
    errorOccurred() is emitted, at the setter and at every refused attempt.
*/
class QREDLOCK_EXPORT SingletonJob : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QRedlock::LockManager *manager READ manager WRITE setManager NOTIFY managerChanged)
    Q_PROPERTY(QString resource READ resource WRITE setResource NOTIFY resourceChanged)
    Q_PROPERTY(qint64 interval READ interval WRITE setInterval NOTIFY intervalChanged)
    Q_PROPERTY(qint64 oncePerPeriod READ oncePerPeriod WRITE setOncePerPeriod NOTIFY oncePerPeriodChanged)
    Q_PROPERTY(qint64 lockAtMostFor READ lockAtMostFor WRITE setLockAtMostFor NOTIFY lockAtMostForChanged)
    Q_PROPERTY(qint64 lockAtLeastFor READ lockAtLeastFor WRITE setLockAtLeastFor NOTIFY lockAtLeastForChanged)
    Q_PROPERTY(QString schedule READ schedule WRITE setSchedule NOTIFY scheduleChanged)
    Q_PROPERTY(QString timeZone READ timeZone WRITE setTimeZone NOTIFY timeZoneChanged)
    Q_PROPERTY(MisfirePolicy misfirePolicy READ misfirePolicy WRITE setMisfirePolicy NOTIFY misfirePolicyChanged)
    Q_PROPERTY(qint64 misfireGrace READ misfireGrace WRITE setMisfireGrace NOTIFY misfireGraceChanged)
    Q_PROPERTY(bool retryFailedRuns READ retryFailedRuns WRITE setRetryFailedRuns NOTIFY retryFailedRunsChanged)
    Q_PROPERTY(bool fencing READ fencing WRITE setFencing NOTIFY fencingChanged)
    Q_PROPERTY(QVariantMap lastRecord READ lastRecord NOTIFY lastRecordChanged)
    Q_PROPERTY(QDateTime nextOccurrence READ nextOccurrence NOTIFY nextOccurrenceChanged)
    Q_PROPERTY(bool active READ isActive WRITE setActive NOTIFY activeChanged)
    Q_PROPERTY(bool running READ isRunning NOTIFY runningChanged)
    Q_PROPERTY(QDateTime lastRun READ lastRun NOTIFY lastRunChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY errorStringChanged)

public:
    //! A C++ job: called when a run starts (see setJob()).
    using Job = std::function<void(JobContext &)>;

    //! What an instance does about an occurrence that nobody ran at its time (all instances
    //! were down, asleep, or without servers) when it becomes active or its servers answer
    //! again.
    enum class MisfirePolicy {
        Skip,   //!< wait for the next occurrence
        RunOnce //!< run the latest occurrence within misfireGrace once, late (not every missed one)
    };
    Q_ENUM(MisfirePolicy)

    //! A job without resource or schedule, inactive.
    explicit SingletonJob(QObject *parent = nullptr);
    //! A running job is cancelled (no signal; its record says `cancelled`) and its lock
    //! released.
    ~SingletonJob() override;

    //! The explicit manager, or LockManager::defaultManager() when unset.
    LockManager *manager() const;
    //! Sets the manager whose servers the job's locks and record use.
    void setManager(LockManager *manager);

    //! The resource: the name of the job, its lock and its record.
    QString resource() const;
    //! Sets the resource.
    void setResource(const QString &resource);

    //! ms between attempts; 0 (default): none. In occurrence modes: retries within an occurrence.
    qint64 interval() const;
    //! Sets interval (0 .. 2^31 - 1 ms; other values are refused, see the class description).
    void setInterval(qint64 ms);
    //! The same as setInterval(qint64).
    void setInterval(std::chrono::milliseconds ms);
    //! ms; 0 (default): not period-keyed. Excludes schedule.
    qint64 oncePerPeriod() const;
    //! Sets oncePerPeriod (0 .. ten years).
    void setOncePerPeriod(qint64 ms);
    //! The same as setOncePerPeriod(qint64).
    void setOncePerPeriod(std::chrono::milliseconds ms);
    //! ms, the lease and the longest run; default 30000.
    qint64 lockAtMostFor() const;
    //! Sets lockAtMostFor (1 .. 2^31 - 1 ms; below the manager's minimumTtl() every attempt
    //! is refused).
    void setLockAtMostFor(qint64 ms);
    //! The same as setLockAtMostFor(qint64).
    void setLockAtMostFor(std::chrono::milliseconds ms);
    //! ms the lock stays held after the start of a run, also when it finished sooner; default 0.
    qint64 lockAtLeastFor() const;
    //! Sets lockAtLeastFor (0 .. 2^31 - 1 ms).
    void setLockAtLeastFor(qint64 ms);
    //! The same as setLockAtLeastFor(qint64).
    void setLockAtLeastFor(std::chrono::milliseconds ms);

    //! The cron expression (see CronSchedule: five fields, or six with leading seconds, or a
    //! macro such as `@daily`); empty (default): no schedule.
    QString schedule() const;
    //! Sets the schedule; an invalid one is stored, reported and keeps the job from running.
    void setSchedule(const QString &expression);
    //! The IANA id of the zone the schedule is read in; default the system's zone
    //! (QTimeZone::systemTimeZoneId()).
    QString timeZone() const;
    //! Sets the zone; an empty string restores the default. An unknown id is stored,
    //! reported and keeps the job from running.
    void setTimeZone(const QString &ianaId);

    //! The misfire policy; default RunOnce.
    MisfirePolicy misfirePolicy() const;
    //! Sets the misfire policy.
    void setMisfirePolicy(MisfirePolicy policy);
    //! How late (ms) an occurrence of the schedule may still run: a catch-up, a retry,
    //! trigger(); default 3600000. In oncePerPeriod mode the whole period is the window.
    qint64 misfireGrace() const;
    //! Sets misfireGrace (0 .. ten years).
    void setMisfireGrace(qint64 ms);
    //! The same as setMisfireGrace(qint64).
    void setMisfireGrace(std::chrono::milliseconds ms);
    //! Whether a failed (or cancelled, or abandoned) run may be retried within the same
    //! occurrence by any instance. Default false: an occurrence that started is never
    //! started again.
    bool retryFailedRuns() const;
    //! Sets retryFailedRuns.
    void setRetryFailedRuns(bool on);
    //! Fencing tokens for the run's lock (DistributedLock::fencing, JobContext::fencingToken()).
    //! In occurrence modes each occurrence's key has its own counter (`<key>:fencing`, kept
    //! on the servers), so tokens only order holders of one occurrence. Default false.
    bool fencing() const;
    //! Sets fencing.
    void setFencing(bool on);

    //! The job record of the resource, as the servers last told this instance (written by
    //! whichever instance ran the latest occurrence); empty until read. Keys: "resource",
    //! "occurrence" / "started" / "finished" (QDateTime, UTC; "finished" invalid while
    //! running) with "occurrenceMs" / "startedMs" / "finishedMs" (qint64 ms since the
    //! epoch; -1 when unset), "holder" (the runner's LockManager::holderIdentity),
    //! "outcome" ("running", "finished", "failed", "cancelled"), "reason" (for failed and
    //! cancelled), "durationMs" (-1 while running), "fencingToken" (-1 without fencing),
    //! "schedule", "timeZone", "oncePerPeriod". Read when the job becomes active, before
    //! every run, after a skip and by refreshRecord(); written by the runner at its start
    //! and its end.
    QVariantMap lastRecord() const;
    //! The next occurrence strictly after now (UTC), from schedule and timeZone or from
    //! oncePerPeriod; invalid in neither mode, while the settings are invalid, or when the
    //! schedule never fires.
    QDateTime nextOccurrence() const;
    //! The first occurrence strictly after `after` (UTC), likewise.
    QDateTime nextOccurrenceAfter(const QDateTime &after) const;

    //! Whether the job schedules attempts.
    bool isActive() const;
    //! true: start scheduling (in the next event-loop turn, once all properties are set),
    //! with an attempt at once (in occurrence modes: the latest occurrence, by
    //! misfirePolicy). false: stop scheduling; a run in progress goes on.
    void setActive(bool active);

    //! True while a run is in progress on this instance.
    bool isRunning() const;
    //! When this instance last started the job; invalid if never.
    QDateTime lastRun() const;
    //! Why the last attempt was skipped or refused, or the last run failed.
    QString errorString() const;

    //! A C++ job, called when a run starts (after run() was emitted). It may finish at once
    //! or hand the (copied) context to another thread. Empty: only run() is emitted.
    void setJob(Job job);

    //! Reads the record from the servers (a quorum; the newest by occurrence, then start,
    //! wins) without running anything: recordRefreshed() once the read is over, with
    //! lastRecordChanged() before it if the record changed. On failure errorString() says
    //! why (and lastRecord stays). Never completes synchronously.
    Q_INVOKABLE void refreshRecord();

public Q_SLOTS:
    //! An attempt now (also when not active); in occurrence modes for the latest occurrence
    //! within misfireGrace.
    void trigger();
    //! The current run succeeded.
    void finish();
    //! The current run failed for reason.
    void fail(const QString &reason);
    //! Stops the current run from outside (a shutdown, say): JobContext::isCancelled() turns
    //! true, the record says `cancelled` with the reason, the lock is released, cancelled()
    //! is emitted. Nothing happens when no run is in progress.
    void cancelRun(const QString &reason);

Q_SIGNALS:
    //! A run starts here: do the work, then finish() or fail().
    void run();
    //! The run must stop now (lock lost or expiring, lockAtMostFor over, cancelRun()).
    void cancelled();
    //! An attempt did not run: held elsewhere, already on record, or no quorum (errorString()).
    void skipped();
    //! The run ended with finish().
    void finished();
    //! The run ended with fail(reason).
    void failed(const QString &reason);
    //! manager changed.
    void managerChanged();
    //! resource changed.
    void resourceChanged();
    //! interval changed.
    void intervalChanged();
    //! oncePerPeriod changed.
    void oncePerPeriodChanged();
    //! lockAtMostFor changed.
    void lockAtMostForChanged();
    //! lockAtLeastFor changed.
    void lockAtLeastForChanged();
    //! active changed.
    void activeChanged();
    //! running changed.
    void runningChanged();
    //! lastRun changed.
    void lastRunChanged();
    //! errorString changed.
    void errorStringChanged();
    //! A setting was refused, or an attempt could not be made (message: why; also in errorString()).
    void errorOccurred(const QString &message);
    //! schedule changed.
    void scheduleChanged();
    //! timeZone changed.
    void timeZoneChanged();
    //! misfirePolicy changed.
    void misfirePolicyChanged();
    //! misfireGrace changed.
    void misfireGraceChanged();
    //! retryFailedRuns changed.
    void retryFailedRunsChanged();
    //! fencing changed.
    void fencingChanged();
    //! lastRecord changed.
    void lastRecordChanged();
    //! A refreshRecord() read is over (successful or not).
    void recordRefreshed();
    //! The next occurrence was computed anew (after a fire or a settings change).
    void nextOccurrenceChanged();

private:
    friend class SingletonJobPrivate;
    std::unique_ptr<SingletonJobPrivate> d;
};

} // namespace QRedlock
