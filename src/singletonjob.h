// SingletonJob: runs a job on one application instance at a time, over a DistributedLock.
#pragma once

#include "lockmanager.h"
#include "qredlock_export.h"

#include <QtCore/QDateTime>
#include <QtCore/QDeadlineTimer>
#include <QtCore/QObject>
#include <QtCore/QString>

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

    Scheduling: with interval > 0 every instance makes an attempt every interval ms. With
    oncePerPeriod > 0 the lock key carries the period's index (wall-clock time divided by
    the period), instances make an attempt at the start of every period, and a successful
    run keeps that key until the period ends (plus lockAtLeastFor), so the job runs at most
    once per period across all instances; combined with interval, instances also retry
    during the period, which lets another one take over when a run failed or its instance
    died. Either way an instance also makes an attempt when it becomes active, and
    trigger() makes one at once. Each period has its own key, so a run that started late in
    its period (a takeover) may still be busy when the next period's run starts elsewhere;
    keep lockAtMostFor well below the period if runs must never overlap.

    lockAtLeastFor keeps the lock at least this long after the start of a run, even when
    the job finished sooner, so that instances whose clocks or timers are a little off do
    not run it again right away. A finished run's lock is never released early: its lease
    is cut to what is left of the hold and expires on the servers by itself, which also
    holds across a crash or a shutdown of this instance.
*/
class QREDLOCK_EXPORT SingletonJob : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QRedlock::LockManager *manager READ manager WRITE setManager NOTIFY managerChanged)
    Q_PROPERTY(QString resource READ resource WRITE setResource NOTIFY resourceChanged)
    Q_PROPERTY(int interval READ interval WRITE setInterval NOTIFY intervalChanged)
    Q_PROPERTY(int oncePerPeriod READ oncePerPeriod WRITE setOncePerPeriod NOTIFY oncePerPeriodChanged)
    Q_PROPERTY(int lockAtMostFor READ lockAtMostFor WRITE setLockAtMostFor NOTIFY lockAtMostForChanged)
    Q_PROPERTY(int lockAtLeastFor READ lockAtLeastFor WRITE setLockAtLeastFor NOTIFY lockAtLeastForChanged)
    Q_PROPERTY(bool active READ isActive WRITE setActive NOTIFY activeChanged)
    Q_PROPERTY(bool running READ isRunning NOTIFY runningChanged)
    Q_PROPERTY(QDateTime lastRun READ lastRun NOTIFY lastRunChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY errorStringChanged)

public:
    using Job = std::function<void(JobContext &)>;

    explicit SingletonJob(QObject *parent = nullptr);
    ~SingletonJob() override;  // a running job is cancelled (no signal) and its lock released

    LockManager *manager() const;  // the explicit one, or LockManager::defaultManager() when unset
    void setManager(LockManager *manager);

    QString resource() const;
    void setResource(const QString &resource);

    int interval() const;        // ms between attempts; 0 (default): none
    void setInterval(int ms);
    int oncePerPeriod() const;   // ms; 0 (default): not period-keyed
    void setOncePerPeriod(int ms);
    int lockAtMostFor() const;   // ms, the lease and the longest run; default 30000
    void setLockAtMostFor(int ms);
    int lockAtLeastFor() const;  // ms; default 0
    void setLockAtLeastFor(int ms);

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

public Q_SLOTS:
    void trigger();                      // an attempt now (also when not active)
    void finish();                       // the current run succeeded
    void fail(const QString &reason);    // the current run failed

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

private:
    friend class SingletonJobPrivate;
    std::unique_ptr<SingletonJobPrivate> d;
};

} // namespace QRedlock
