// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#pragma once

#include "jobrecord_p.h"
#include "occurrence_p.h"
#include "singletonjob.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QList>
#include <QtCore/QMutex>
#include <QtCore/QPointer>
#include <QtCore/QTimeZone>
#include <QtCore/QTimer>

#include <atomic>
#include <climits>

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
    QDateTime occurrence;              // constant too
    qint64 fencingToken = -1;          // constant too
    QByteArray token;                  // constant too

    QMutex mutex;
    SingletonJob *job = nullptr;       // guarded by mutex; null once the run is over
};

class SingletonJobPrivate
{
public:
    // Acquiring: the lock; Checking: holds it, reads the record, then writes `running`.
    enum class Phase { Idle, Acquiring, Checking, Running };

    // A finished run's lock, left to expire on the servers (see hold()).
    struct HeldLock
    {
        QPointer<DistributedLock> lock;
        QPointer<LockManager> manager;
    };

    explicit SingletonJobPrivate(SingletonJob *q);
    static SingletonJobPrivate *get(SingletonJob *job) { return job->d.get(); }

    enum class Cause { Timer, Activation, Retry, Trigger, ServersBack };

    QTimeZone zone() const;
    QString zoneId() const;
    QString settingsProblem() const; // schedule, zone, exclusive modes
    QString validate() const;        // all that an attempt needs
    OccurrencePlan plan() const;     // None while the settings are invalid
    void refuse(const QString &message); // errorString + errorOccurred()
    bool assignDuration(qint64 &field, qint64 ms, qint64 minimum, qint64 maximum, const char *name);
    void checkSettings();            // after a schedule / zone / period change
    void setErrorString(const QString &message);
    void setPhase(Phase p);

    void startScheduling();
    void stopScheduling();
    void scheduleNextOccurrence();
    void onOccurrenceTimer();
    void onServersChanged();
    void attempt(Cause cause);
    void onAcquireFailed();
    void judgeFailedAttempt();
    void skip(const QString &why, bool serversFailed);
    void onAcquired();
    void onRecordChecked(quint64 thisAttempt, bool ok, const JobRecord &rec, const QString &error);
    JobRecord newRecord(const QString &outcome) const;
    void writeRecord(const JobRecord &rec, bool gate);
    void onRecordWritten(quint64 thisAttempt, bool ok, const JobRecord &rec, const QString &error);
    void adoptRecord(const JobRecord &rec);
    void recordOutcome(const QString &outcome, const QString &reason, qint64 elapsed);
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
    void shutdown();

    SingletonJob *q;
    QPointer<LockManager> manager;
    QString resource;
    qint64 interval = 0;
    qint64 oncePerPeriod = 0;
    qint64 lockAtMostFor = 30000;
    qint64 lockAtLeastFor = 0;
    QString schedule;
    QString timeZone;       // empty: the system's
    SingletonJob::MisfirePolicy misfirePolicy = SingletonJob::MisfirePolicy::RunOnce;
    qint64 misfireGrace = 3600000;
    bool retryFailedRuns = false;
    bool fencing = false;
    JobRecord record;       // lastRecord
    int refreshes = 0;      // refreshRecord() reads in flight
    bool active = false;
    bool scheduling = false;  // the deferred activation has happened
    QDateTime lastRun;
    QString errorString;
    SingletonJob::Job job;

    Phase phase = Phase::Idle;
    DistributedLock *lock = nullptr;  // the current attempt's or run's lock (a child of q)
    QPointer<LockManager> lockManager;
    qint64 lockOccurrenceMs = -1;     // occurrence modes: the attempt's occurrence (-1: none)
    qint64 lockNextOccurrenceMs = -1; // occurrence modes: the next occurrence after it (-1: none)
    qint64 nextOccurrenceMs = -1;     // what the occurrence timer waits for (-1: none)
    qint64 eligibleFromMs = LLONG_MIN; // occurrences before it are never attempted (Skip)
    bool missed = false;              // the last attempt found no quorum: catch up when servers answer
    qint64 runStartedMs = 0;          // wall clock at the start of the run
    int splitRetries = 0;
    quint64 attemptId = 0;            // bumped by every attempt; stale record replies are dropped
    JobRecord running;                // the current run's record (outcome "running")
    QMetaObject::Connection serversConnection;
    QDeadlineTimer settleDeadline;
    quint64 runId = 0;
    QElapsedTimer runClock;
    std::shared_ptr<JobContextState> context;
    QList<HeldLock> held;

    QTimer intervalTimer;   // repeating attempts
    QTimer periodTimer;     // the next occurrence
    QTimer serversTimer;    // coalesces serverStatusChanged() into one catch-up attempt
    QTimer retryTimer;      // another attempt after a split vote
    QTimer settleTimer;     // a failed attempt waits for its last servers' answers
    QTimer deadlineTimer;   // lockAtMostFor since the start of the run
    QTimer watchdogTimer;   // the lease is about to run out without a confirmed extension
};

} // namespace QRedlock
