#pragma once

#include "distributedlock.h"
#include "lockmanager_p.h"
#include "locktimer_p.h"

#include <QtCore/QPointer>

#include <map>

namespace QRedlock {

class DistributedLockPrivate
{
public:
    explicit DistributedLockPrivate(DistributedLock *q) : q(q) { }
    static DistributedLockPrivate *get(DistributedLock *lock) { return lock->d.get(); }

    void onExpiryTimer() { onExpired(); }
    void onRetryTimer()
    {
        if (state == DistributedLock::State::Acquiring)
            startAttempt();
    }

    LockManagerPrivate *managerPrivate() const;
    QString validate() const;
    void start(bool retry);
    void startAttempt();
    void onAcquireDecided(QuorumRound &round, quint64 attempt, qint64 t0);
    void attemptFailed(DistributedLock::Error error, const QString &message, bool needsCleanup = true);
    bool retryAllowed(DistributedLock::Error error, int delayMs) const;
    bool lapsed() const; // Locked, but the validity deadline has passed (expired() not yet handled)
    void becomeLocked();
    void startExtension();
    void onExtendDecided(QuorumRound &round, quint64 attempt, qint64 t1);
    void scheduleExtension(qint64 fromNs);
    void onExpired();
    void onLost(const QString &message);
    void cleanup(const QByteArray &token);
    void finishRelease();
    void stopTimers();
    void setState(DistributedLock::State s);
    void setError(DistributedLock::Error e, const QString &message);
    void emitErrorLater(DistributedLock::Error e, const QString &message, bool acquireFailed);
    void trackRound(const std::shared_ptr<QuorumRound> &round);
    QString describeRound(const QuorumRound &round) const;
    int jitteredRetryDelay() const;
    qint64 validityEndNs(qint64 startNs) const; // start + ttl - drift allowance
    void newToken();
    void onManagerDestroyed();
    void detachFromManager(); // drops the release-on-destruction hook of the current manager

    DistributedLock *q;
    QPointer<LockManager> manager;
    QMetaObject::Connection managerDestroyedConnection;
    QStringList resources;
    QList<QByteArray> keys;
    int ttl = 30000;
    bool autoExtend = false;
    bool fencing = false;
    int acquireTimeout = -1;
    bool active = false;

    DistributedLock::State state = DistributedLock::State::Unlocked;
    DistributedLock::Error error = DistributedLock::Error::NoError;
    QString errorString;
    QByteArray token;
    qint64 fencingToken = -1;
    qint64 validUntilNs = 0;

    // Every acquisition attempt, extension and release bumps this; replies for an older
    // value are stale and ignored.
    quint64 generation = 0;
    bool retrying = false;
    bool reacquireAfterRelease = false;
    bool leftToExpire = false;  // releaseAfter(): not released on destruction or by the manager
    bool extending = false;
    int attempts = 0;
    qint64 acquireStartNs = 0;
    qint64 lastAttemptT0 = 0;

    LockTimer expiryTimer { [this] { onExpiryTimer(); } };
    LockTimer extendTimer { [this] { startExtension(); } };
    LockTimer retryTimer { [this] { onRetryTimer(); } };
    std::shared_ptr<QuorumRound> lastRound;
};

} // namespace QRedlock
