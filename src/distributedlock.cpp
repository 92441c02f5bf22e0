// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "distributedlock.h"

#include "distributedlock_p.h"
#include "logging_p.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QDateTime>
#include <QtCore/QMetaMethod>
#include <QtCore/QRandomGenerator>
#include <QtCore/QThread>
#include <QtCore/QTimer>

#include <algorithm>
#include <climits>
#include <optional>

namespace QRedlock {

int msUntil(qint64 deadlineNs)
{
    const qint64 left = deadlineNs - monotonicNs();
    return left <= 0 ? 0 : int(left / NsPerMs);
}

// ---- helpers -----------------------------------------------------------------------------

LockManagerPrivate *DistributedLockPrivate::managerPrivate() const
{
    LockManager *m = manager ? manager.data() : nullptr;
    return m ? LockManagerPrivate::get(m) : nullptr;
}

QString DistributedLockPrivate::validate() const
{
    LockManager *m = q->manager();
    if (!m)
        return QStringLiteral("no lock manager: call setManager() or set QREDLOCK_SERVERS");
    if (m->serverCount() == 0) {
        const QString why = m->errorString();
        return QStringLiteral("the lock manager has no servers%1").arg(why.isEmpty() ? QString() : u": " + why);
    }
    if (resources.isEmpty())
        return QStringLiteral("no resource set: call setResource() before acquiring");
    for (const QString &r : resources) {
        if (r.isEmpty())
            return QStringLiteral("empty resource name");
    }
    const LockManagerPrivate *mp = LockManagerPrivate::get(m);
    if (!mp->identityConflict.isEmpty())
        return mp->identityConflict;
    if (ttl <= 0)
        return QStringLiteral("TTL must be positive, got %1 ms").arg(ttl);
    const int minimum = mp->minimumTtl();
    if (ttl < minimum)
        return QStringLiteral("TTL %1 ms is too short to be renewed in time: at least %2 ms with a %3 ms server "
                              "timeout (4 x server timeout + the clock-drift allowance)")
                .arg(ttl).arg(minimum).arg(mp->serverTimeout);
    if (acquireTimeout < -1)
        return QStringLiteral("acquire timeout must be >= 0 ms or -1, got %1").arg(acquireTimeout);
    return QString();
}

void DistributedLockPrivate::setState(DistributedLock::State s)
{
    if (state == s)
        return;
    if (s != DistributedLock::State::Acquiring)
        materializeError(); // a deferred message describes this acquisition's last round only
    const bool wasLocked = state == DistributedLock::State::Locked;
    state = s;
    const bool lockedChanged = wasLocked != (s == DistributedLock::State::Locked);
    if (lockedChanged && wasLocked)
        validityTickTimer.stop();
    Q_EMIT q->stateChanged();
    if (lockedChanged) {
        Q_EMIT q->lockedChanged();
        notifyRemainingValidity();
    }
}

// ---- remainingValidityChanged() ----------------------------------------------------------

namespace {
constexpr int SlowTickMs = 1000;      // while more than FastBelowMs are left
constexpr int FastTickMs = 100;
constexpr int FastBelowMs = 10000;
} // namespace

bool DistributedLockPrivate::validityWatched() const
{
    static const QMetaMethod signal = QMetaMethod::fromSignal(&DistributedLock::remainingValidityChanged);
    return q->isSignalConnected(signal);
}

void DistributedLockPrivate::notifyRemainingValidity()
{
    QPointer<DistributedLock> self(q);
    Q_EMIT q->remainingValidityChanged();
    if (self)
        armValidityTick();
}

// The next emission falls on the next whole second (or tenth of a second, under 10 s) of
// the remaining validity, so that a countdown shown in s or in tenths changes on time.
void DistributedLockPrivate::armValidityTick()
{
    if (state != DistributedLock::State::Locked || !validityWatched()) {
        validityTickTimer.stop();
        return;
    }
    const int left = msUntil(validUntilNs);
    if (left <= 0) {
        validityTickTimer.stop(); // the expiry timer ends the lock, which emits once more
        return;
    }
    const auto stepAt = [](int ms) { return ms > FastBelowMs ? SlowTickMs : FastTickMs; };
    int boundary = left - left % stepAt(left); // the next whole step at or below left
    if (left - boundary < 2) // at (or a ms after) a boundary: the one after it
        boundary -= stepAt(boundary);
    if (boundary <= 0) {
        validityTickTimer.stop(); // the last one is the expiry's
        return;
    }
    validityTickTimer.start(left - boundary, Qt::PreciseTimer);
}

void DistributedLockPrivate::onValidityTick()
{
    if (state != DistributedLock::State::Locked || !validityWatched())
        return; // nobody listens any more: the timer stays off until someone connects
    notifyRemainingValidity();
}

void DistributedLockPrivate::setError(DistributedLock::Error e, const QString &message)
{
    materializeError(); // so that a change from it is told
    if (error == e && errorString == message)
        return;
    error = e;
    errorString = message;
    Q_EMIT q->errorChanged();
}

void DistributedLockPrivate::emitErrorLater(DistributedLock::Error e, const QString &message, bool failedAcquire)
{
    // error() tells at once; the signals follow through the event loop.
    setError(e, message);
    QPointer<DistributedLock> self(q);
    QMetaObject::invokeMethod(
            q,
            [self, e, failedAcquire] {
                if (!self)
                    return;
                Q_EMIT self->errorOccurred(e);
                if (failedAcquire)
                    Q_EMIT self->acquireFailed();
            },
            Qt::QueuedConnection);
}

void DistributedLockPrivate::newToken()
{
    // The manager owns the format: random bits, then the holder's identity.
    token = managerPrivate()->newToken();
    Q_EMIT q->tokenChanged();
}

qint64 DistributedLockPrivate::validityEndNs(qint64 startNs) const
{
    // Measured from before the request left: the servers' keys expire no earlier than that.
    const LockManagerPrivate *mp = managerPrivate();
    return startNs + qint64(ttl) * NsPerMs - (mp ? mp->driftMarginNs(ttl) : 0);
}

int DistributedLockPrivate::jitteredRetryDelay() const
{
    return LockManagerPrivate::orDefaults(managerPrivate()).jitteredRetryDelay();
}

void DistributedLockPrivate::stopTimers()
{
    expiryTimer.stop();
    extendTimer.stop();
    retryTimer.stop();
}

void DistributedLockPrivate::cleanup(const QByteArray &oldToken, bool leaveQueue)
{
    LockManagerPrivate *mp = managerPrivate();
    if (!mp || oldToken.isEmpty() || keys.isEmpty() || mp->connections.empty())
        return;
    // Fire and forget: the round keeps itself alive until every server answered.
    mp->release(keys, oldToken, leaveQueue && queued ? waiterId : QByteArray());
    if (leaveQueue)
        queued = false;
}

void DistributedLockPrivate::detachFromManager()
{
    // Nothing is left with the manager's notifier either: it holds this as a plain pointer
    // (see startWaiting()).
    endWait();
    endWatch();
    if (!attached)
        return;
    if (LockManagerPrivate *mp = managerPrivate())
        mp->clients.erase(this);
    attached = false;
}

void DistributedLockPrivate::managerClosing()
{
    if (!leftToExpire) // releaseAfter(): the keys are left to expire, manager or not
        q->release();
}

void DistributedLockPrivate::managerGone()
{
    attached = false;
    onManagerDestroyed();
}

void DistributedLockPrivate::onManagerDestroyed()
{
    waitId = 0; // the manager's notifier went with it
    watchId = 0;
    watchTimer.stop();
    probing = false;
    subscribing = false;
    ++generation;
    extending = false;
    extendTimer.stop();
    retryTimer.stop();
    switch (state) {
    case DistributedLock::State::Acquiring:
        setState(DistributedLock::State::Unlocked);
        setError(DistributedLock::Error::Cancelled, QStringLiteral("the lock manager was destroyed"));
        Q_EMIT q->errorOccurred(error);
        Q_EMIT q->acquireFailed();
        break;
    case DistributedLock::State::Releasing:
        finishRelease();
        break;
    case DistributedLock::State::Locked: // stays valid until it expires; it can no longer be extended
    case DistributedLock::State::Unlocked:
        break;
    }
}

// ---- DistributedLock ---------------------------------------------------------------------

DistributedLock::DistributedLock(QObject *parent) : QObject(parent), d(new DistributedLockPrivate(this)) { }

DistributedLock::~DistributedLock()
{
    if (d->state != State::Unlocked && d->state != State::Releasing && !d->leftToExpire)
        d->cleanup(d->token);
    d->detachFromManager();
}

LockManager *DistributedLock::manager() const
{
    return d->manager ? d->manager.data() : LockManager::defaultManager();
}

void DistributedLock::setManager(LockManager *manager)
{
    if (d->manager == manager)
        return;
    if (d->state != State::Unlocked) {
        qCWarning(lcLock) << "setManager() ignored while the lock is" << d->state;
        return;
    }
    d->detachFromManager();
    d->manager = manager;
    Q_EMIT managerChanged();
}

QString DistributedLock::resource() const { return d->resources.value(0); }
void DistributedLock::setResource(const QString &resource) { setResources({ resource }); }
QStringList DistributedLock::resources() const { return d->resources; }
void DistributedLock::setResources(const QStringList &resources)
{
    QStringList unique;
    for (const QString &r : resources) {
        if (!unique.contains(r))
            unique.append(r);
    }
    if (d->resources == unique)
        return;
    d->resources = unique;
    Q_EMIT resourcesChanged();
}

int DistributedLock::ttl() const { return d->ttl; }
void DistributedLock::setTtl(int ms)
{
    if (d->ttl == ms)
        return;
    if (ms <= 0)
        qCWarning(lcLock) << "TTL must be positive, got" << ms << "ms: acquiring will fail";
    d->ttl = ms;
    Q_EMIT ttlChanged();
}

bool DistributedLock::autoExtend() const { return d->autoExtend; }
void DistributedLock::setAutoExtend(bool on)
{
    if (d->autoExtend == on)
        return;
    d->autoExtend = on;
    if (d->state == State::Locked) {
        if (on)
            d->scheduleExtension(monotonicNs() - qint64(d->ttl) * NsPerMs / 3); // now
        else
            d->extendTimer.stop();
    }
    Q_EMIT autoExtendChanged();
}

bool DistributedLock::fencing() const { return d->fencing; }
void DistributedLock::setFencing(bool on)
{
    if (d->fencing == on)
        return;
    d->fencing = on;
    Q_EMIT fencingChanged();
}

int DistributedLock::acquireTimeout() const { return d->acquireTimeout; }
void DistributedLock::setAcquireTimeout(int ms)
{
    if (d->acquireTimeout == ms)
        return;
    d->acquireTimeout = ms;
    Q_EMIT acquireTimeoutChanged();
}

bool DistributedLock::isActive() const { return d->active; }
void DistributedLock::setActive(bool active)
{
    if (d->active == active)
        return;
    d->active = active;
    Q_EMIT activeChanged();
    // Deferred: a declarative object gets all its properties before the first attempt.
    QPointer<DistributedLock> self(this);
    QMetaObject::invokeMethod(
            this,
            [self] {
                if (!self)
                    return;
                if (self->d->active)
                    self->acquire();
                else
                    self->release();
            },
            Qt::QueuedConnection);
}

bool DistributedLockPrivate::lapsed() const
{
    return state == DistributedLock::State::Locked && monotonicNs() >= validUntilNs;
}

DistributedLock::State DistributedLock::state() const { return d->lapsed() ? State::Unlocked : d->state; }
bool DistributedLock::isLocked() const { return d->state == State::Locked && !d->lapsed(); }
DistributedLock::Error DistributedLock::error() const { return d->error; }
QString DistributedLock::errorString() const
{
    d->materializeError();
    return d->errorString;
}
int DistributedLock::remainingValidity() const { return d->state == State::Locked ? msUntil(d->validUntilNs) : 0; }
qint64 DistributedLock::fencingToken() const { return d->fencingToken; }

void DistributedLock::connectNotify(const QMetaMethod &signal)
{
    QObject::connectNotify(signal);
    if (signal != QMetaMethod::fromSignal(&DistributedLock::remainingValidityChanged))
        return;
    // Connections may be made from another thread; the timer belongs to this one.
    QPointer<DistributedLock> self(this);
    auto start = [self] {
        if (self && !self->d->validityTickTimer.isActive())
            self->d->armValidityTick();
    };
    if (QThread::currentThread() == thread())
        start();
    else
        QMetaObject::invokeMethod(this, start, Qt::QueuedConnection);
}
QByteArray DistributedLock::token() const { return d->token; }

void DistributedLock::acquire() { d->start(true); }
void DistributedLock::tryAcquire() { d->start(false); }

void DistributedLock::extend()
{
    if (d->state != State::Locked) {
        d->emitErrorLater(Error::InvalidArgument, QStringLiteral("extend() needs a held lock"), false);
        return;
    }
    d->startExtension();
}

void DistributedLock::releaseAfter(int ms)
{
    if (d->state != State::Locked) {
        d->emitErrorLater(Error::InvalidArgument, QStringLiteral("releaseAfter() needs a held lock"), false);
        return;
    }
    if (ms <= 0) {
        release();
        return;
    }
    LockManagerPrivate *mp = d->managerPrivate();
    setAutoExtend(false);
    setTtl(mp ? mp->ttlCovering(ms) : ms);
    // An extension already in flight carries the old TTL: the short one goes out after it.
    const bool inFlight = d->extending;
    if (inFlight) {
        auto once = std::make_shared<QMetaObject::Connection>();
        *once = connect(this, &DistributedLock::extended, this, [this, once] {
            disconnect(*once);
            if (d->leftToExpire && d->state == State::Locked)
                d->startExtension();
        });
    }
    d->startExtension();
    d->leftToExpire = true; // and not released when the manager closes (managerClosing())
}

void DistributedLock::release()
{
    d->reacquireAfterRelease = false;
    d->leftToExpire = false;
    switch (d->state) {
    case State::Unlocked:
    case State::Releasing:
        return;
    case State::Acquiring: {
        ++d->generation;
        d->retryTimer.stop();
        d->endWait();
        d->attemptInFlight = false;
        d->probing = false;
        d->cleanup(d->token);
        d->token.clear();
        Q_EMIT tokenChanged();
        d->setState(State::Unlocked);
        // Reported now, for the acquisition it ends: an acquire() right after this call
        // starts afresh and is not answered by this cancellation.
        d->setError(Error::Cancelled, QStringLiteral("acquisition cancelled by release()"));
        Q_EMIT errorOccurred(Error::Cancelled);
        Q_EMIT acquireFailed();
        return;
    }
    case State::Locked:
        break;
    }
    d->stopTimers();
    d->endWatch();
    d->extending = false;
    const quint64 gen = ++d->generation;
    d->setState(State::Releasing);
    LockManagerPrivate *mp = d->managerPrivate();
    if (!mp || mp->connections.empty()) {
        QPointer<DistributedLock> self(this);
        QMetaObject::invokeMethod(this, [self, gen] {
            if (self && self->d->generation == gen)
                self->d->finishRelease();
        }, Qt::QueuedConnection);
        return;
    }
    auto round = mp->release(d->keys, d->token, d->queued ? d->waiterId : QByteArray());
    d->queued = false;
    QPointer<DistributedLock> self(this);
    round->onDecided = [self, gen](QuorumRound &) {
        if (self && self->d->generation == gen) {
            Q_EMIT self->serverStatusChanged();
            self->d->finishRelease();
        }
    };
    d->trackRound(round);
}

// ---- std::chrono setters -----------------------------------------------------------------

namespace {
// The milliseconds as an int, or nothing (with a warning) when they do not fit.
std::optional<int> lockMsFromChrono(std::chrono::milliseconds value, const char *setter)
{
    if (value.count() >= INT_MIN && value.count() <= INT_MAX)
        return int(value.count());
    qCWarning(lcLock).noquote() << QStringLiteral("%1(%2 ms) refused: out of the int range of milliseconds; "
                                                  "the setting is unchanged")
                                           .arg(QString::fromLatin1(setter))
                                           .arg(qint64(value.count()));
    return std::nullopt;
}
} // namespace

void DistributedLock::setTtl(std::chrono::milliseconds ttl)
{
    if (const std::optional<int> ms = lockMsFromChrono(ttl, "DistributedLock::setTtl"))
        setTtl(*ms);
}

void DistributedLock::setAcquireTimeout(std::chrono::milliseconds timeout)
{
    if (const std::optional<int> ms = lockMsFromChrono(timeout, "DistributedLock::setAcquireTimeout"))
        setAcquireTimeout(*ms);
}

} // namespace QRedlock
