// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "singletonjob.h"

#include "lockmanager_p.h"
#include "logging_p.h"
#include "singletonjob_p.h"

#include <QtCore/QPointer>

#include <climits>

namespace QRedlock {

namespace {

// The longest lease and Qt timer: interval, lockAtMostFor and lockAtLeastFor stay below.
constexpr qint64 MaxTimerMs = INT_MAX;

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
QDateTime JobContext::occurrence() const { return d ? d->occurrence : QDateTime(); }
qint64 JobContext::fencingToken() const { return d ? d->fencingToken : -1; }
QByteArray JobContext::token() const { return d ? d->token : QByteArray(); }
void JobContext::finish() { postOutcome(d, true, QString()); }
void JobContext::fail(const QString &reason) { postOutcome(d, false, reason); }

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

qint64 SingletonJob::interval() const { return d->interval; }
void SingletonJob::setInterval(qint64 ms)
{
    if (!d->assignDuration(d->interval, ms, 0, MaxTimerMs, "interval"))
        return;
    if (d->scheduling) {
        if (ms > 0)
            d->intervalTimer.start(int(ms));
        else
            d->intervalTimer.stop();
    }
    Q_EMIT intervalChanged();
}
void SingletonJob::setInterval(std::chrono::milliseconds ms) { setInterval(qint64(ms.count())); }

qint64 SingletonJob::oncePerPeriod() const { return d->oncePerPeriod; }
void SingletonJob::setOncePerPeriod(qint64 ms)
{
    if (!d->assignDuration(d->oncePerPeriod, ms, 0, OccurrencePlan::MaxPeriodMs, "oncePerPeriod"))
        return;
    Q_EMIT oncePerPeriodChanged();
    d->checkSettings();
}
void SingletonJob::setOncePerPeriod(std::chrono::milliseconds ms) { setOncePerPeriod(qint64(ms.count())); }

qint64 SingletonJob::lockAtMostFor() const { return d->lockAtMostFor; }
void SingletonJob::setLockAtMostFor(qint64 ms)
{
    if (d->assignDuration(d->lockAtMostFor, ms, 1, MaxTimerMs, "lockAtMostFor"))
        Q_EMIT lockAtMostForChanged();
}
void SingletonJob::setLockAtMostFor(std::chrono::milliseconds ms) { setLockAtMostFor(qint64(ms.count())); }

qint64 SingletonJob::lockAtLeastFor() const { return d->lockAtLeastFor; }
void SingletonJob::setLockAtLeastFor(qint64 ms)
{
    if (d->assignDuration(d->lockAtLeastFor, ms, 0, MaxTimerMs, "lockAtLeastFor"))
        Q_EMIT lockAtLeastForChanged();
}
void SingletonJob::setLockAtLeastFor(std::chrono::milliseconds ms) { setLockAtLeastFor(qint64(ms.count())); }

QString SingletonJob::schedule() const { return d->schedule; }
void SingletonJob::setSchedule(const QString &expression)
{
    if (d->schedule == expression)
        return;
    d->schedule = expression;
    Q_EMIT scheduleChanged();
    d->checkSettings();
}

QString SingletonJob::timeZone() const { return d->zoneId(); }
void SingletonJob::setTimeZone(const QString &ianaId)
{
    if (d->timeZone == ianaId)
        return;
    const QString before = d->zoneId();
    d->timeZone = ianaId;
    if (d->zoneId() != before)
        Q_EMIT timeZoneChanged();
    d->checkSettings();
}

SingletonJob::MisfirePolicy SingletonJob::misfirePolicy() const { return d->misfirePolicy; }
void SingletonJob::setMisfirePolicy(MisfirePolicy policy)
{
    if (d->misfirePolicy == policy)
        return;
    d->misfirePolicy = policy;
    Q_EMIT misfirePolicyChanged();
}

qint64 SingletonJob::misfireGrace() const { return d->misfireGrace; }
void SingletonJob::setMisfireGrace(qint64 ms)
{
    if (d->assignDuration(d->misfireGrace, ms, 0, OccurrencePlan::MaxPeriodMs, "misfireGrace"))
        Q_EMIT misfireGraceChanged();
}
void SingletonJob::setMisfireGrace(std::chrono::milliseconds ms) { setMisfireGrace(qint64(ms.count())); }

bool SingletonJob::retryFailedRuns() const { return d->retryFailedRuns; }
void SingletonJob::setRetryFailedRuns(bool on)
{
    if (d->retryFailedRuns == on)
        return;
    d->retryFailedRuns = on;
    Q_EMIT retryFailedRunsChanged();
}

bool SingletonJob::fencing() const { return d->fencing; }
void SingletonJob::setFencing(bool on)
{
    if (d->fencing == on)
        return;
    d->fencing = on;
    Q_EMIT fencingChanged();
}

QVariantMap SingletonJob::lastRecord() const { return d->record.toVariantMap(); }

QDateTime SingletonJob::nextOccurrence() const
{
    return nextOccurrenceAfter(QDateTime::currentDateTimeUtc());
}

QDateTime SingletonJob::nextOccurrenceAfter(const QDateTime &after) const
{
    const qint64 next = after.isValid() ? d->plan().nextAfter(after.toMSecsSinceEpoch()) : -1;
    return next >= 0 ? QDateTime::fromMSecsSinceEpoch(next, Qt::UTC) : QDateTime();
}

void SingletonJob::refreshRecord()
{
    LockManager *m = manager();
    QPointer<SingletonJob> self(this);
    const auto done = [self](bool ok, const JobRecord &rec, const QString &error) {
        if (!self)
            return;
        SingletonJobPrivate *d = self->d.get();
        if (ok) {
            d->adoptRecord(rec);
        } else {
            qCInfo(lcJob).noquote() << "job" << d->resource << ": the record was not read:" << error;
            d->setErrorString(error);
        }
        Q_EMIT self->recordRefreshed();
    };
    if (d->resource.isEmpty() || !m) {
        const QString why = d->resource.isEmpty() ? QStringLiteral("no resource set") : QStringLiteral("no lock manager");
        QMetaObject::invokeMethod(this, [done, why] { done(false, JobRecord(), why); }, Qt::QueuedConnection);
        return;
    }
    LockManagerPrivate::get(m)->readRecord(d->resource, done);
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

void SingletonJob::trigger() { d->attempt(SingletonJobPrivate::Cause::Trigger); }
void SingletonJob::finish() { d->complete(d->runId, true, QString()); }
void SingletonJob::fail(const QString &reason) { d->complete(d->runId, false, reason); }
void SingletonJob::cancelRun(const QString &reason) { d->cancel(reason); }

} // namespace QRedlock
