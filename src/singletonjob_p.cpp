// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// SingletonJobPrivate, the run: the life of one attempt and one run (attempt, acquire, check
// the job record, run, record the outcome, hold). The settings and the occurrence timer are
// in singletonjobschedule.cpp; the occurrence rules are OccurrencePlan's, the record's format
// and rounds JobRecord's (jobrecord.cpp), the key schema LockManager's.
#include "singletonjob_p.h"

#include "distributedlock_p.h"
#include "logging_p.h"

#include <QtCore/QRandomGenerator>

#include <algorithm>
#include <climits>

namespace QRedlock {

namespace {

// How often an attempt that may have met a split vote is repeated (see judgeFailedAttempt()).
constexpr int MaxSplitRetries = 3;

qint64 nowMs() { return QDateTime::currentMSecsSinceEpoch(); }

QString isoUtc(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs);
}

} // namespace

SingletonJobPrivate::SingletonJobPrivate(SingletonJob *q) : q(q)
{
    for (QTimer *t : { &periodTimer, &retryTimer, &settleTimer, &deadlineTimer, &watchdogTimer, &serversTimer }) {
        t->setSingleShot(true);
        t->setTimerType(Qt::PreciseTimer);
    }
    QObject::connect(&intervalTimer, &QTimer::timeout, q, [this] { attempt(Cause::Retry); });
    QObject::connect(&periodTimer, &QTimer::timeout, q, [this] { onOccurrenceTimer(); });
    QObject::connect(&serversTimer, &QTimer::timeout, q, [this] {
        if (scheduling && missed && phase == Phase::Idle)
            attempt(Cause::ServersBack);
    });
    QObject::connect(&retryTimer, &QTimer::timeout, q, [this] {
        if (phase == Phase::Acquiring && lock)
            lock->tryAcquire();
    });
    QObject::connect(&settleTimer, &QTimer::timeout, q, [this] { judgeFailedAttempt(); });
    QObject::connect(&deadlineTimer, &QTimer::timeout, q, [this] {
        cancel(QStringLiteral("the run took longer than lockAtMostFor (%1 ms)").arg(lockAtMostFor));
    });
    QObject::connect(&watchdogTimer, &QTimer::timeout, q, [this] {
        cancel(QStringLiteral("the lease of '%1' is about to run out and no extension was confirmed")
                       .arg(lock ? lock->resource() : resource));
    });
}

void SingletonJobPrivate::setErrorString(const QString &message)
{
    if (errorString == message)
        return;
    errorString = message;
    Q_EMIT q->errorStringChanged();
}

void SingletonJobPrivate::setPhase(Phase p)
{
    if (phase == p)
        return;
    const bool wasRunning = phase == Phase::Running;
    phase = p;
    if (wasRunning != (p == Phase::Running))
        Q_EMIT q->runningChanged();
}

bool SingletonJobPrivate::holdsKey(const QString &key)
{
    held.removeIf([](const HeldLock &h) { return h.lock.isNull(); });
    return std::any_of(held.cbegin(), held.cend(), [&key](const HeldLock &h) {
        return h.lock->isLocked() && h.lock->resource() == key;
    });
}

void SingletonJobPrivate::attempt(Cause cause)
{
    if (phase != Phase::Idle) {
        qCDebug(lcJob) << "attempt on" << resource << "ignored: the previous one is still"
                       << (phase == Phase::Running ? "running" : "acquiring");
        return;
    }
    const QString problem = validate();
    if (!problem.isEmpty()) {
        qCWarning(lcJob).noquote() << "job" << resource << "cannot run:" << problem;
        setErrorString(problem);
        Q_EMIT q->errorOccurred(problem);
        return;
    }
    const OccurrencePlan p = plan();
    QString key = resource;
    qint64 occurrence = -1;
    qint64 next = -1;
    if (p.hasOccurrences()) {
        occurrence = p.latestAtOrBefore(nowMs(), p.horizonMs(misfireGrace, cause == Cause::Timer));
        if (occurrence < 0 || (cause != Cause::Trigger && occurrence < eligibleFromMs)) {
            qCDebug(lcJob).noquote() << "job" << resource << ": no occurrence to run now";
            return;
        }
        key = LockManagerPrivate::occurrenceResource(resource, occurrence);
        next = p.nextAfter(occurrence);
    }
    if (holdsKey(key)) {
        qCDebug(lcJob).noquote() << "job" << key << "already ran here; its lock is still held";
        return;
    }
    LockManager *m = q->manager();
    lock = new DistributedLock(q);
    lock->setManager(m);
    lock->setResource(key);
    lock->setTtl(int(lockAtMostFor));
    lock->setAutoExtend(true);
    lock->setFencing(fencing);
    QObject::connect(lock, &DistributedLock::acquired, q, [this] { onAcquired(); });
    QObject::connect(lock, &DistributedLock::acquireFailed, q, [this] { onAcquireFailed(); });
    QObject::connect(lock, &DistributedLock::extended, q, [this] { armWatchdog(); });
    QObject::connect(lock, &DistributedLock::lost, q, [this] {
        const QString why = QStringLiteral("the lock was lost: %1").arg(lock->errorString());
        phase == Phase::Checking ? skip(why, false) : cancel(why);
    });
    QObject::connect(lock, &DistributedLock::expired, q, [this] {
        const QString why = QStringLiteral("the lease of '%1' expired").arg(lock->resource());
        phase == Phase::Checking ? skip(why, false) : cancel(why);
    });
    lockManager = m;
    lockOccurrenceMs = occurrence;
    lockNextOccurrenceMs = next;
    splitRetries = 0;
    ++attemptId;
    setPhase(Phase::Acquiring);
    lock->tryAcquire();
}

void SingletonJobPrivate::onAcquireFailed()
{
    settleDeadline = QDeadlineTimer(timing().serverTimeout + 20);
    judgeFailedAttempt();
}

// A conflict is either a holder or a split vote (contenders each got some servers, nobody a
// quorum). The round is decided as soon as a quorum is out of reach, so the last servers'
// answers are awaited first (briefly): if every server refused, someone holds the key and
// the attempt is skipped; otherwise it may be a split, and every contender releases and
// tries again after a random pause, a few times.
void SingletonJobPrivate::judgeFailedAttempt()
{
    if (phase != Phase::Acquiring || !lock)
        return;
    using Result = DistributedLock::ServerOutcome::Result;
    const bool conflict = lock->error() == DistributedLock::Error::Conflict;
    if (conflict && splitRetries < MaxSplitRetries) {
        const QList<DistributedLock::ServerOutcome> outcomes = lock->serverOutcomes();
        const auto count = [&outcomes](Result r) {
            return std::count_if(outcomes.cbegin(), outcomes.cend(), [r](const auto &o) { return o.result == r; });
        };
        const auto refused = count(Result::Refused);
        const auto pending = count(Result::Pending);
        if (pending > 0 && refused + pending == outcomes.size() && !settleDeadline.hasExpired()) {
            settleTimer.start(1);
            return;
        }
        if (refused < outcomes.size()) {
            ++splitRetries;
            // Contenders of a split vote spread out by at least half the retry delay.
            const LockManagerPrivate &t = timing();
            retryTimer.start(std::max(1, t.jitteredRetryDelay(t.retryDelay / 2)));
            return;
        }
    }
    if (conflict) {
        // What ran, for lastRecord on every instance: read unless the outcome of this
        // occurrence (or a later one) is known here already.
        const bool known = record.occurrenceMs > lockOccurrenceMs
                || (record.occurrenceMs == lockOccurrenceMs && record.outcome != JobRecord::running());
        const bool refresh = lockOccurrenceMs >= 0 && !known;
        skip(QStringLiteral("'%1' is held by another instance").arg(lock->resource()), false);
        if (refresh)
            q->refreshRecord();
    } else
        skip(QStringLiteral("'%1' not acquired: %2").arg(lock->resource(), lock->errorString()), true);
}

void SingletonJobPrivate::skip(const QString &why, bool serversFailed)
{
    dropLock();
    setPhase(Phase::Idle);
    missed = serversFailed && lockOccurrenceMs >= 0;
    qCInfo(lcJob).noquote() << "job skipped:" << why;
    setErrorString(why);
    Q_EMIT q->skipped();
}

void SingletonJobPrivate::onAcquired()
{
    if (phase != Phase::Acquiring)
        return;
    // An attempt made late (after retries, say) may get the key only once the next
    // occurrence is due and its runner's hold has ended: running then would run it twice.
    if (lockNextOccurrenceMs >= 0 && nowMs() >= lockNextOccurrenceMs) {
        skip(QStringLiteral("'%1': the %2 was over when the lock was granted")
                     .arg(lock->resource(), schedule.isEmpty() ? QStringLiteral("period") : QStringLiteral("occurrence")),
             false);
        return;
    }
    runStartedMs = nowMs();
    if (lockOccurrenceMs < 0) {
        // No occurrences: every attempt may run; the record only tells what ran.
        running = newRecord(JobRecord::running());
        writeRecord(running, false);
        beginRun();
        return;
    }
    setPhase(Phase::Checking);
    const quint64 thisAttempt = attemptId;
    QPointer<SingletonJob> self(q);
    LockManagerPrivate::get(lockManager)->readRecord(resource, [self, thisAttempt](bool ok, const JobRecord &rec, const QString &error) {
        if (self)
            SingletonJobPrivate::get(self)->onRecordChecked(thisAttempt, ok, rec, error);
    });
}

// Holding the occurrence's lock, with the record of a quorum: run unless the occurrence (or a
// later one) is on record already.
void SingletonJobPrivate::onRecordChecked(quint64 thisAttempt, bool ok, const JobRecord &rec, const QString &error)
{
    if (phase != Phase::Checking || thisAttempt != attemptId || !lock)
        return;
    if (!ok) {
        skip(QStringLiteral("'%1': %2").arg(lock->resource(), error), true);
        return;
    }
    adoptRecord(rec);
    if (!rec.isNull() && rec.occurrenceMs > lockOccurrenceMs) {
        skip(QStringLiteral("'%1': a later occurrence (%2) is on record").arg(lock->resource(), isoUtc(rec.occurrenceMs)),
             false);
        return;
    }
    if (!rec.isNull() && rec.occurrenceMs == lockOccurrenceMs) {
        const bool retry = retryFailedRuns && rec.outcome != JobRecord::finished();
        if (!retry) {
            const QString how = rec.outcome == JobRecord::running() ? QStringLiteral("started and vanished") : rec.outcome;
            skip(QStringLiteral("'%1': the occurrence already ran on %2 (%3)").arg(lock->resource(), rec.holder, how), false);
            return;
        }
        qCInfo(lcJob).noquote() << "job" << resource << "retries occurrence" << isoUtc(lockOccurrenceMs)
                                << "after" << rec.outcome << rec.reason;
    }
    // The run starts only once its `running` record is on a quorum: an instance that takes
    // the key after us (our lease lapsed) sees that the occurrence started.
    running = newRecord(JobRecord::running());
    writeRecord(running, true);
}

JobRecord SingletonJobPrivate::newRecord(const QString &outcome) const
{
    JobRecord r;
    r.resource = resource;
    r.occurrenceMs = lockOccurrenceMs >= 0 ? lockOccurrenceMs : runStartedMs;
    r.startedMs = runStartedMs;
    r.holder = lockManager ? lockManager->holderIdentity() : QString();
    r.outcome = outcome;
    r.fencingToken = lock ? lock->fencingToken() : -1;
    r.schedule = schedule;
    r.timeZone = schedule.isEmpty() ? QString() : zoneId();
    r.oncePerPeriod = oncePerPeriod;
    return r;
}

// Sends the record under the current lock's token. gate: the run waits for the result
// (onRecordWritten); otherwise the result only updates lastRecord.
void SingletonJobPrivate::writeRecord(const JobRecord &rec, bool gate)
{
    if (!lock || !lockManager)
        return;
    const qint64 ttl = plan().recordTtlMs(rec.occurrenceMs, misfireGrace);
    const quint64 thisAttempt = attemptId;
    QPointer<SingletonJob> self(q);
    LockManagerPrivate::get(lockManager)
            ->writeRecord(lock->resource(), lock->token(), resource, rec, ttl,
                          [self, thisAttempt, rec, gate](bool ok, const QString &error) {
                              if (!self)
                                  return;
                              SingletonJobPrivate *d = SingletonJobPrivate::get(self);
                              if (gate) {
                                  d->onRecordWritten(thisAttempt, ok, rec, error);
                                  return;
                              }
                              if (ok)
                                  d->adoptRecord(rec);
                              else
                                  qCInfo(lcJob).noquote() << "job" << rec.resource << ": record" << rec.outcome
                                                          << "not written:" << error;
                          });
}

void SingletonJobPrivate::onRecordWritten(quint64 thisAttempt, bool ok, const JobRecord &rec, const QString &error)
{
    if (phase != Phase::Checking || thisAttempt != attemptId || !lock)
        return;
    if (!ok) {
        skip(QStringLiteral("'%1': not run: %2").arg(lock->resource(), error), true);
        return;
    }
    adoptRecord(rec);
    beginRun();
}

void SingletonJobPrivate::adoptRecord(const JobRecord &rec)
{
    if (rec == record || record.isNewerThan(rec))
        return;
    record = rec;
    Q_EMIT q->lastRecordChanged();
}

void SingletonJobPrivate::beginRun()
{
    const quint64 thisRun = ++runId;
    runClock.start();
    context = std::make_shared<JobContextState>();
    context->run = thisRun;
    context->deadline = QDeadlineTimer(lockAtMostFor, Qt::PreciseTimer);
    context->occurrence = QDateTime::fromMSecsSinceEpoch(running.occurrenceMs, Qt::UTC);
    context->fencingToken = lock->fencingToken();
    context->token = lock->token();
    context->job = q;
    deadlineTimer.start(int(lockAtMostFor));
    armWatchdog();
    lastRun = QDateTime::currentDateTime();
    qCDebug(lcJob).noquote() << "job" << lock->resource() << "runs";

    missed = false;
    setErrorString(QString());
    setPhase(Phase::Running);
    Q_EMIT q->lastRunChanged();
    // A handler may finish the run at once (even from runningChanged), or delete the job.
    QPointer<SingletonJob> self(q);
    if (phase == Phase::Running && runId == thisRun)
        Q_EMIT q->run();
    if (!self || phase != Phase::Running || runId != thisRun || !job)
        return;
    JobContext ctx(context);
    job(ctx);
}

int SingletonJobPrivate::watchdogMargin() const
{
    // The manager's rule: the job can stop while the lease still stands.
    return LockManager::renewalMargin(int(lockAtMostFor));
}

const LockManagerPrivate &SingletonJobPrivate::timing() const
{
    return LockManagerPrivate::orDefaults(lockManager ? LockManagerPrivate::get(lockManager) : nullptr);
}

void SingletonJobPrivate::armWatchdog()
{
    if (lock)
        watchdogTimer.start(std::max(0, lock->remainingValidity() - watchdogMargin()));
}

// The outcome goes to the record first, under the lock's token: its command leaves before
// the release or the hold's resize on every connection.
void SingletonJobPrivate::recordOutcome(const QString &outcome, const QString &reason, qint64 elapsed)
{
    JobRecord rec = running;
    rec.outcome = outcome;
    rec.reason = reason;
    rec.finishedMs = nowMs();
    rec.durationMs = elapsed;
    writeRecord(rec, false);
}

void SingletonJobPrivate::complete(quint64 run, bool ok, const QString &reason)
{
    if (phase != Phase::Running || run != runId) {
        qCDebug(lcJob) << "finish()/fail() ignored: no such run in progress";
        return;
    }
    const qint64 elapsed = runClock.elapsed();
    endContext(false);
    deadlineTimer.stop();
    watchdogTimer.stop();
    recordOutcome(ok ? JobRecord::finished() : JobRecord::failed(), reason, elapsed);
    if (ok) {
        qint64 holdMs = lockAtLeastFor - elapsed;
        if (lockNextOccurrenceMs >= 0)
            holdMs = std::max(holdMs, lockNextOccurrenceMs - nowMs() + lockAtLeastFor);
        if (holdMs > 0)
            hold(holdMs);
        else
            dropLock();
        setPhase(Phase::Idle);
        Q_EMIT q->finished();
    } else {
        dropLock();
        qCInfo(lcJob).noquote() << "job" << resource << "failed:" << reason;
        setErrorString(reason);
        setPhase(Phase::Idle);
        Q_EMIT q->failed(reason);
    }
}

void SingletonJobPrivate::cancel(const QString &reason)
{
    if (phase != Phase::Running)
        return;
    endContext(true);
    deadlineTimer.stop();
    watchdogTimer.stop();
    recordOutcome(JobRecord::cancelled(), reason, runClock.elapsed());
    dropLock();
    qCWarning(lcJob).noquote() << "job" << resource << "cancelled:" << reason;
    setErrorString(reason);
    setPhase(Phase::Idle);
    Q_EMIT q->cancelled();
}

// Keeps a finished run's lock for holdMs more without releasing it (DistributedLock::
// releaseAfter(), which also covers an extension in flight).
void SingletonJobPrivate::hold(qint64 holdMs)
{
    DistributedLock *l = lock;
    lock = nullptr;
    QObject::disconnect(l, nullptr, q, nullptr);
    for (auto signal : { &DistributedLock::expired, &DistributedLock::lost, &DistributedLock::released })
        QObject::connect(l, signal, l, &QObject::deleteLater);
    l->releaseAfter(int(std::min<qint64>(holdMs, INT_MAX)));
    held.append({ l, lockManager });
    qCDebug(lcJob).noquote() << "job" << l->resource() << "done; its lock is kept for" << holdMs << "ms";
}

void SingletonJobPrivate::dropLock()
{
    if (!lock)
        return;
    DistributedLock *l = lock;
    lock = nullptr;
    QObject::disconnect(l, nullptr, q, nullptr);
    l->release();  // no-op unless held or acquiring; the release round outlives the object
    l->deleteLater();
}

void SingletonJobPrivate::endContext(bool cancelled)
{
    if (!context)
        return;
    if (cancelled)
        context->cancelled.store(true);
    {
        QMutexLocker locker(&context->mutex);
        context->job = nullptr;
    }
    context.reset();
}

void SingletonJobPrivate::shutdown()
{
    for (QTimer *t : { &intervalTimer, &periodTimer, &retryTimer, &settleTimer, &deadlineTimer, &watchdogTimer,
                       &serversTimer })
        t->stop();
    QObject::disconnect(serversConnection);
    endContext(true);
    if (phase == Phase::Running)
        recordOutcome(JobRecord::cancelled(), QStringLiteral("the job object was destroyed"), runClock.elapsed());
    if (lock) {
        QObject::disconnect(lock, nullptr, q, nullptr);
        delete lock;  // releases a held lock, cancels an acquisition
        lock = nullptr;
    }
    // Finished runs' locks keep holding after we are gone: the manager adopts them, and when
    // it goes too they are dropped without a release (the servers expire the keys).
    for (const HeldLock &h : std::as_const(held)) {
        if (h.lock && h.manager)
            h.lock->setParent(h.manager);
    }
    held.clear();
}

} // namespace QRedlock
