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
    JobContext();  // attached to no run: isCancelled() is true, finish()/fail() do nothing

    // True once the run must stop: the lock was lost or expired, lockAtMostFor ran out,
    // or the SingletonJob went away. Safe to poll from any thread.
    bool isCancelled() const;
    // The latest moment the run may last (its start + lockAtMostFor).
    QDeadlineTimer deadline() const;
    // The occurrence this run is for (UTC): the cron fire time (schedule) or the period's
    // start (oncePerPeriod); the run's start otherwise. Invalid when attached to no run.
    QDateTime occurrence() const;
    // The lock's fencing token (SingletonJob::fencing); -1 when fencing is off.
    qint64 fencingToken() const;
    // The lock's token (DistributedLock::token(): the value on the servers); empty when
    // attached to no run.
    QByteArray token() const;

    void finish();
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
    using Job = std::function<void(JobContext &)>;

    // What an instance does about an occurrence that nobody ran at its time (all instances
    // were down, asleep, or without servers) when it becomes active or its servers answer
    // again: Skip waits for the next occurrence; RunOnce runs the latest one within
    // misfireGrace once, late (not every missed one).
    enum class MisfirePolicy { Skip, RunOnce };
    Q_ENUM(MisfirePolicy)

    explicit SingletonJob(QObject *parent = nullptr);
    ~SingletonJob() override;  // a running job is cancelled (no signal) and its lock released

    LockManager *manager() const;  // the explicit one, or LockManager::defaultManager() when unset
    void setManager(LockManager *manager);

    QString resource() const;
    void setResource(const QString &resource);

    qint64 interval() const;        // ms between attempts; 0 (default): none
    void setInterval(qint64 ms);
    void setInterval(std::chrono::milliseconds ms);
    qint64 oncePerPeriod() const;   // ms; 0 (default): not period-keyed
    void setOncePerPeriod(qint64 ms);
    void setOncePerPeriod(std::chrono::milliseconds ms);
    qint64 lockAtMostFor() const;   // ms, the lease and the longest run; default 30000
    void setLockAtMostFor(qint64 ms);
    void setLockAtMostFor(std::chrono::milliseconds ms);
    qint64 lockAtLeastFor() const;  // ms; default 0
    void setLockAtLeastFor(qint64 ms);
    void setLockAtLeastFor(std::chrono::milliseconds ms);

    // A cron expression (see CronSchedule: five fields, or six with leading seconds, or a
    // macro such as @daily); empty (default): no schedule.
    QString schedule() const;
    void setSchedule(const QString &expression);
    // The IANA id of the zone the schedule is read in; default the system's zone
    // (QTimeZone::systemTimeZoneId()). Setting an empty string restores the default.
    QString timeZone() const;
    void setTimeZone(const QString &ianaId);

    // How late an occurrence of the schedule may still run (a catch-up, a retry, trigger());
    // in oncePerPeriod mode the whole period is the window instead.
    MisfirePolicy misfirePolicy() const; // default RunOnce
    void setMisfirePolicy(MisfirePolicy policy);
    qint64 misfireGrace() const;         // ms; default 3600000 (one hour)
    void setMisfireGrace(qint64 ms);
    void setMisfireGrace(std::chrono::milliseconds ms);
    // A failed (or cancelled, or abandoned) run may be retried within the same occurrence
    // by any instance. Default false: an occurrence that started is never started again.
    bool retryFailedRuns() const;
    void setRetryFailedRuns(bool on);
    // Fencing tokens for the run's lock (DistributedLock::fencing; JobContext::fencingToken()).
    // In occurrence modes each occurrence's key has its own counter (`<key>:fencing`, kept
    // on the servers), so tokens only order holders of one occurrence. Default false.
    bool fencing() const;
    void setFencing(bool on);

    // The job record of the resource, as the servers last told this instance (written by
    // whichever instance ran the latest occurrence); empty until read. Keys: "resource",
    // "occurrence" / "started" / "finished" (QDateTime, UTC; "finished" invalid while
    // running) with "occurrenceMs" / "startedMs" / "finishedMs" (qint64 ms since the
    // epoch; -1 when unset), "holder" (the runner's LockManager::holderIdentity),
    // "outcome" ("running", "finished", "failed", "cancelled"), "reason" (for failed and
    // cancelled), "durationMs" (-1 while running), "fencingToken" (-1 without fencing),
    // "schedule", "timeZone", "oncePerPeriod". Read when the job becomes active, before
    // every run and by refreshRecord(); written by the runner at its start and its end.
    QVariantMap lastRecord() const;
    // The next occurrence strictly after now (UTC), from schedule/timeZone or
    // oncePerPeriod; invalid in neither mode, or when the schedule never fires.
    QDateTime nextOccurrence() const;
    // The same for any instant.
    QDateTime nextOccurrenceAfter(const QDateTime &after) const;

    // true: start scheduling (in the next event-loop turn, once all properties are set),
    // with a first attempt at once. false: stop scheduling; a run in progress goes on.
    bool isActive() const;
    void setActive(bool active);

    bool isRunning() const;
    QDateTime lastRun() const;   // when this instance last started the job; invalid if never
    QString errorString() const; // why the last attempt was skipped or the last run failed

    // A C++ job, called when a run starts (after run() was emitted). It may finish at once
    // or hand the (copied) context to another thread. Empty: only run() is emitted.
    void setJob(Job job);

    // Reads the record from the servers (a quorum; the newest by occurrence, then start,
    // wins) without running anything: recordRefreshed() once the read is over (also when it
    // failed: errorString says why), lastRecordChanged() before it if the record changed.
    // Never completes synchronously.
    Q_INVOKABLE void refreshRecord();

public Q_SLOTS:
    void trigger();                      // an attempt now (also when not active)
    void finish();                       // the current run succeeded
    void fail(const QString &reason);    // the current run failed
    // Stops the current run from outside (a shutdown, say): JobContext::isCancelled() turns
    // true, the record says `cancelled` with the reason, the lock is released, cancelled()
    // is emitted. Nothing happens when no run is in progress.
    void cancelRun(const QString &reason);

Q_SIGNALS:
    void run();
    void cancelled();
    void skipped();
    void finished();
    void failed(const QString &reason);
    void managerChanged();
    void resourceChanged();
    void intervalChanged();
    void oncePerPeriodChanged();
    void lockAtMostForChanged();
    void lockAtLeastForChanged();
    void activeChanged();
    void runningChanged();
    void lastRunChanged();
    void errorStringChanged();
    void errorOccurred(const QString &message); // a refused setting, or a refused attempt
    void scheduleChanged();
    void timeZoneChanged();
    void misfirePolicyChanged();
    void misfireGraceChanged();
    void retryFailedRunsChanged();
    void fencingChanged();
    void lastRecordChanged();
    void recordRefreshed();
    void nextOccurrenceChanged();

private:
    friend class SingletonJobPrivate;
    std::unique_ptr<SingletonJobPrivate> d;
};

} // namespace QRedlock
