#include "singletonjob.h"

#include "distributedlock_p.h"
#include "logging_p.h"
#include "singletonjob_p.h"

#include <QtCore/QRandomGenerator>

#include <algorithm>
#include <climits>
#include <cmath>

namespace QRedlock {

namespace {

// How often an attempt that may have met a split vote is repeated (see judgeFailedAttempt()).
constexpr int MaxSplitRetries = 3;
// The period timer fires this long after the computed period start, so that the wall clock
// is surely in the new period when the key is derived from it.
constexpr int PeriodStartSlackMs = 2;

qint64 nowMs() { return QDateTime::currentMSecsSinceEpoch(); }

// finish() / fail() from any thread: the outcome travels to the job's thread as a queued
// call. The mutex keeps the job alive while the call is posted; a call posted to a job that
// is deleted before it runs is dropped by Qt.
void postOutcome(const std::shared_ptr<JobContextState> &state, bool ok, const QString &reason)
{
    if (!state || state->done.exchange(true))
        return;
    QMutexLocker locker(&state->mutex);
    SingletonJob *job = state->job;
    if (!job)
        return;
    const quint64 run = state->run;
    QMetaObject::invokeMethod(
            job, [job, run, ok, reason] { SingletonJobPrivate::get(job)->complete(run, ok, reason); },
            Qt::QueuedConnection);
}

} // namespace

// ---- JobContext --------------------------------------------------------------------------

JobContext::JobContext() = default;
JobContext::JobContext(std::shared_ptr<JobContextState> state) : d(std::move(state)) { }

bool JobContext::isCancelled() const { return !d || d->cancelled.load(); }
QDeadlineTimer JobContext::deadline() const { return d ? d->deadline : QDeadlineTimer(); }
void JobContext::finish() { postOutcome(d, true, QString()); }
void JobContext::fail(const QString &reason) { postOutcome(d, false, reason); }

// ---- SingletonJobPrivate -----------------------------------------------------------------

SingletonJobPrivate::SingletonJobPrivate(SingletonJob *q) : q(q)
{
    for (QTimer *t : { &periodTimer, &retryTimer, &settleTimer, &deadlineTimer, &watchdogTimer }) {
        t->setSingleShot(true);
        t->setTimerType(Qt::PreciseTimer);
    }
    QObject::connect(&intervalTimer, &QTimer::timeout, q, [this] { attempt(); });
    QObject::connect(&periodTimer, &QTimer::timeout, q, [this] {
        // Timers run on the monotonic clock, periods on the wall clock: if the wall clock
        // is not there yet, wait for it rather than take the old period's key.
        const qint64 early = nextPeriodStartMs - nowMs();
        if (early >= 0) {
            periodTimer.start(int(early) + PeriodStartSlackMs);
            return;
        }
        attempt();
        schedulePeriodStart();
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

QString SingletonJobPrivate::validate() const
{
    if (resource.isEmpty())
        return QStringLiteral("no resource set");
    if (lockAtMostFor <= 0)
        return QStringLiteral("lockAtMostFor must be positive, got %1 ms").arg(lockAtMostFor);
    LockManager *m = q->manager();
    if (!m || m->serverCount() == 0) {
        const QString why = m ? m->errorString() : QString();
        return QStringLiteral("the lock manager has no servers%1").arg(why.isEmpty() ? QString() : u": " + why);
    }
    return QString();
}

// Period mode keys the lock by the period: <resource>:<period ms>:<index>, index =
// floor(wall-clock ms since the epoch / period). Periods are aligned to the Unix epoch
// (UTC), so a 24 h period starts at midnight UTC on every instance.
//
// How "at most once per period" is kept: the successful run's lock on that key is not
// released but kept until the end of the period plus lockAtLeastFor (see hold()); a
// separate "done" marker key would need raw commands that DistributedLock rightly does
// not offer, and would still need the same expiry. Because the key expires on the servers
// by itself, the guarantee also survives a crash of the instance that ran the job, and
// lockAtLeastFor doubles as the allowance for instances whose clocks run behind.
QString SingletonJobPrivate::keyForNow(qint64 *periodEndMs) const
{
    if (oncePerPeriod <= 0) {
        *periodEndMs = 0;
        return resource;
    }
    const qint64 index = nowMs() / oncePerPeriod;
    *periodEndMs = (index + 1) * oncePerPeriod;
    return QStringLiteral("%1:%2:%3").arg(resource, QString::number(oncePerPeriod), QString::number(index));
}

// A setter's common part: true when `field` took the new value (changed and >= minimum).
bool SingletonJobPrivate::assignDuration(int &field, int ms, int minimum, const char *name)
{
    if (field == ms)
        return false;
    if (ms < minimum) {
        qCWarning(lcJob).nospace() << name << " must be >= " << minimum << " ms, got " << ms << ": ignored";
        return false;
    }
    field = ms;
    return true;
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

void SingletonJobPrivate::startScheduling()
{
    scheduling = true;
    if (interval > 0)
        intervalTimer.start(interval);
    if (oncePerPeriod > 0)
        schedulePeriodStart();
    attempt();
}

void SingletonJobPrivate::stopScheduling()
{
    scheduling = false;
    intervalTimer.stop();
    periodTimer.stop();
    if (phase == Phase::Acquiring) {
        retryTimer.stop();
        settleTimer.stop();
        dropLock();
        setPhase(Phase::Idle);
    }
}

void SingletonJobPrivate::schedulePeriodStart()
{
    if (!scheduling || oncePerPeriod <= 0)
        return;
    const qint64 now = nowMs();
    nextPeriodStartMs = (now / oncePerPeriod + 1) * oncePerPeriod;
    periodTimer.start(int(nextPeriodStartMs - now) + PeriodStartSlackMs);
}

bool SingletonJobPrivate::holdsKey(const QString &key)
{
    held.removeIf([](const HeldLock &h) { return h.lock.isNull(); });
    return std::any_of(held.cbegin(), held.cend(), [&key](const HeldLock &h) {
        return h.lock->isLocked() && h.lock->resource() == key;
    });
}

void SingletonJobPrivate::attempt()
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
        return;
    }
    qint64 periodEnd = 0;
    const QString key = keyForNow(&periodEnd);
    if (holdsKey(key)) {
        qCDebug(lcJob).noquote() << "job" << key << "already ran here; its lock is still held";
        return;
    }
    LockManager *m = q->manager();
    lock = new DistributedLock(q);
    lock->setManager(m);
    lock->setResource(key);
    lock->setTtl(lockAtMostFor);
    lock->setAutoExtend(true);
    QObject::connect(lock, &DistributedLock::acquired, q, [this] { onAcquired(); });
    QObject::connect(lock, &DistributedLock::acquireFailed, q, [this] { onAcquireFailed(); });
    QObject::connect(lock, &DistributedLock::extended, q, [this] { armWatchdog(); });
    QObject::connect(lock, &DistributedLock::lost, q, [this] {
        cancel(QStringLiteral("the lock was lost: %1").arg(lock->errorString()));
    });
    QObject::connect(lock, &DistributedLock::expired, q, [this] {
        cancel(QStringLiteral("the lease of '%1' expired").arg(lock->resource()));
    });
    lockManager = m;
    lockPeriodEndMs = periodEnd;
    splitRetries = 0;
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
    skip(conflict ? QStringLiteral("'%1' is held by another instance").arg(lock->resource())
                  : QStringLiteral("'%1' not acquired: %2").arg(lock->resource(), lock->errorString()));
}

void SingletonJobPrivate::skip(const QString &why)
{
    dropLock();
    setPhase(Phase::Idle);
    qCInfo(lcJob).noquote() << "job skipped:" << why;
    setErrorString(why);
    Q_EMIT q->skipped();
}

void SingletonJobPrivate::onAcquired()
{
    if (phase != Phase::Acquiring)
        return;
    // An attempt made late in a period (after retries, say) may get the key only once the
    // period is over and its runner's hold has ended: running then would run it twice.
    if (lockPeriodEndMs > 0 && nowMs() >= lockPeriodEndMs) {
        skip(QStringLiteral("'%1': the period was over when the lock was granted").arg(lock->resource()));
        return;
    }
    beginRun();
}

void SingletonJobPrivate::beginRun()
{
    const quint64 thisRun = ++runId;
    runClock.start();
    context = std::make_shared<JobContextState>();
    context->run = thisRun;
    context->deadline = QDeadlineTimer(lockAtMostFor, Qt::PreciseTimer);
    context->job = q;
    deadlineTimer.start(lockAtMostFor);
    armWatchdog();
    lastRun = QDateTime::currentDateTime();
    qCDebug(lcJob).noquote() << "job" << lock->resource() << "runs";

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
    return LockManager::renewalMargin(lockAtMostFor);
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
    if (ok) {
        qint64 holdMs = lockAtLeastFor - elapsed;
        if (oncePerPeriod > 0)
            holdMs = std::max(holdMs, lockPeriodEndMs - nowMs() + lockAtLeastFor);
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
    dropLock();
    qCWarning(lcJob).noquote() << "job" << resource << "cancelled:" << reason;
    setErrorString(reason);
    setPhase(Phase::Idle);
    Q_EMIT q->cancelled();
}

// Keeps a finished run's lock for holdMs more without releasing it: the lease is cut (or
// stretched) to the hold in one extension round and left to expire on the servers. If an
// automatic extension was in flight when extend() was called, that call did nothing and
// the next extended() confirms the old TTL, so the resize is sent once more after it.
void SingletonJobPrivate::hold(qint64 holdMs)
{
    DistributedLock *l = lock;
    lock = nullptr;
    QObject::disconnect(l, nullptr, q, nullptr);
    for (auto signal : { &DistributedLock::expired, &DistributedLock::lost, &DistributedLock::released })
        QObject::connect(l, signal, l, &QObject::deleteLater);
    l->setAutoExtend(false);
    l->setTtl(timing().ttlCovering(holdMs));
    auto once = std::make_shared<QMetaObject::Connection>();
    *once = QObject::connect(l, &DistributedLock::extended, l, [l, once] {
        QObject::disconnect(*once);
        l->extend();
    });
    l->extend();
    // Left to expire on the servers, also when the manager goes first (which releases the
    // locks still registered with it).
    DistributedLockPrivate::get(l)->detachFromManager();
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
    for (QTimer *t : { &intervalTimer, &periodTimer, &retryTimer, &settleTimer, &deadlineTimer, &watchdogTimer })
        t->stop();
    endContext(true);
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

// ---- SingletonJob ------------------------------------------------------------------------

SingletonJob::SingletonJob(QObject *parent) : QObject(parent), d(new SingletonJobPrivate(this)) { }

SingletonJob::~SingletonJob()
{
    d->shutdown();
}

LockManager *SingletonJob::manager() const
{
    return d->manager ? d->manager.data() : LockManager::defaultManager();
}

void SingletonJob::setManager(LockManager *manager)
{
    if (d->manager == manager)
        return;
    d->manager = manager;
    Q_EMIT managerChanged();
}

QString SingletonJob::resource() const { return d->resource; }
void SingletonJob::setResource(const QString &resource)
{
    if (d->resource == resource)
        return;
    d->resource = resource;
    Q_EMIT resourceChanged();
}

int SingletonJob::interval() const { return d->interval; }
void SingletonJob::setInterval(int ms)
{
    if (!d->assignDuration(d->interval, ms, 0, "interval"))
        return;
    if (d->scheduling) {
        if (ms > 0)
            d->intervalTimer.start(ms);
        else
            d->intervalTimer.stop();
    }
    Q_EMIT intervalChanged();
}

int SingletonJob::oncePerPeriod() const { return d->oncePerPeriod; }
void SingletonJob::setOncePerPeriod(int ms)
{
    if (!d->assignDuration(d->oncePerPeriod, ms, 0, "oncePerPeriod"))
        return;
    d->periodTimer.stop();
    d->schedulePeriodStart();
    Q_EMIT oncePerPeriodChanged();
}

int SingletonJob::lockAtMostFor() const { return d->lockAtMostFor; }
void SingletonJob::setLockAtMostFor(int ms)
{
    if (d->assignDuration(d->lockAtMostFor, ms, 1, "lockAtMostFor"))
        Q_EMIT lockAtMostForChanged();
}

int SingletonJob::lockAtLeastFor() const { return d->lockAtLeastFor; }
void SingletonJob::setLockAtLeastFor(int ms)
{
    if (d->assignDuration(d->lockAtLeastFor, ms, 0, "lockAtLeastFor"))
        Q_EMIT lockAtLeastForChanged();
}

bool SingletonJob::isActive() const { return d->active; }
void SingletonJob::setActive(bool active)
{
    if (d->active == active)
        return;
    d->active = active;
    Q_EMIT activeChanged();
    // Deferred, like DistributedLock::setActive(): a declarative object gets all its
    // properties before the first attempt.
    QPointer<SingletonJob> self(this);
    QMetaObject::invokeMethod(
            this,
            [self] {
                if (!self)
                    return;
                SingletonJobPrivate *d = self->d.get();
                if (d->active && !d->scheduling)
                    d->startScheduling();
                else if (!d->active && d->scheduling)
                    d->stopScheduling();
            },
            Qt::QueuedConnection);
}

bool SingletonJob::isRunning() const { return d->phase == SingletonJobPrivate::Phase::Running; }
QDateTime SingletonJob::lastRun() const { return d->lastRun; }
QString SingletonJob::errorString() const { return d->errorString; }

void SingletonJob::setJob(Job job) { d->job = std::move(job); }

void SingletonJob::trigger() { d->attempt(); }
void SingletonJob::finish() { d->complete(d->runId, true, QString()); }
void SingletonJob::fail(const QString &reason) { d->complete(d->runId, false, reason); }

} // namespace QRedlock
