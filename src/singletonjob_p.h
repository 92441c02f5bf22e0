#pragma once

#include "singletonjob.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QList>
#include <QtCore/QMutex>
#include <QtCore/QPointer>
#include <QtCore/QTimer>

#include <atomic>

namespace QRedlock {

class DistributedLock;
class LockManagerPrivate;

// Shared by a run's JobContext copies (any thread) and the SingletonJob (its own thread).
class JobContextState
{
public:
    std::atomic<bool> cancelled { false };
    std::atomic<bool> done { false };  // finish() or fail() was called once
    QDeadlineTimer deadline;           // set before the context is handed out, then constant
    quint64 run = 0;                   // constant too

    QMutex mutex;
    SingletonJob *job = nullptr;       // guarded by mutex; null once the run is over
};

class SingletonJobPrivate
{
public:
    enum class Phase { Idle, Acquiring, Running };

    // A finished run's lock, left to expire on the servers (see hold()).
    struct HeldLock
    {
        QPointer<DistributedLock> lock;
        QPointer<LockManager> manager;
    };

    explicit SingletonJobPrivate(SingletonJob *q);
    static SingletonJobPrivate *get(SingletonJob *job) { return job->d.get(); }

    QString validate() const;
    QString keyForNow(qint64 *periodEndMs) const;
    void startScheduling();
    void stopScheduling();
    void schedulePeriodStart();
    void attempt();
    void onAcquired();
    void onAcquireFailed();
    void judgeFailedAttempt();
    void skip(const QString &why);
    void beginRun();
    void complete(quint64 run, bool ok, const QString &reason);
    void cancel(const QString &reason);
    void armWatchdog();
    int watchdogMargin() const;
    const LockManagerPrivate &timing() const; // the manager's timing policy, or its defaults
    void hold(qint64 holdMs);
    void dropLock();
    void endContext(bool cancelled);
    bool holdsKey(const QString &key);
    bool assignDuration(int &field, int ms, int minimum, const char *name);
    void setErrorString(const QString &message);
    void setPhase(Phase p);
    void shutdown();

    SingletonJob *q;
    QPointer<LockManager> manager;
    QString resource;
    int interval = 0;
    int oncePerPeriod = 0;
    int lockAtMostFor = 30000;
    int lockAtLeastFor = 0;
    bool active = false;
    bool scheduling = false;  // the deferred activation has happened
    QDateTime lastRun;
    QString errorString;
    SingletonJob::Job job;

    Phase phase = Phase::Idle;
    DistributedLock *lock = nullptr;  // the current attempt's or run's lock (a child of q)
    QPointer<LockManager> lockManager;
    qint64 lockPeriodEndMs = 0;       // period mode: wall-clock end of the lock's period
    qint64 nextPeriodStartMs = 0;     // period mode: what the period timer waits for
    int splitRetries = 0;
    QDeadlineTimer settleDeadline;
    quint64 runId = 0;
    QElapsedTimer runClock;
    std::shared_ptr<JobContextState> context;
    QList<HeldLock> held;

    QTimer intervalTimer;   // repeating attempts
    QTimer periodTimer;     // the next period start
    QTimer retryTimer;      // another attempt after a split vote
    QTimer settleTimer;     // a failed attempt waits for its last servers' answers
    QTimer deadlineTimer;   // lockAtMostFor since the start of the run
    QTimer watchdogTimer;   // the lease is about to run out without a confirmed extension
};

} // namespace QRedlock
