#pragma once

#include "distributedlock.h"
#include "lockmanager_p.h"

#include <QtCore/QPointer>

#include <map>

namespace QRedlock {

class LockTimerQueue;

// The timers of a lock (expiry, extension, retry), with QBasicTimer's interface, all kept on
// one Qt timer per thread. Qt keeps its timers in one sorted list with linear insertion and
// removal: with 10,000 held locks (20,000 timers, restarted on every extension) that list
// took three quarters of the process's CPU. Here deadlines sit in a multimap (O(log n)) and
// one QTimer is armed for the earliest. timerEvent() receives a QTimerEvent with a negative
// id, so it never equals a Qt timer's id. Single-shot: the lock stops or restarts it.
class LockTimer
{
public:
    LockTimer() = default;
    LockTimer(const LockTimer &) = delete;
    LockTimer &operator=(const LockTimer &) = delete;
    ~LockTimer() { stop(); }

    void start(int ms, Qt::TimerType type, QObject *target);
    void stop();
    bool isActive() const { return m_id != 0; }
    int timerId() const { return m_id; }

private:
    friend class LockTimerQueue;
    LockTimerQueue *m_queue = nullptr; // of the thread that started it; valid while m_queued
    QObject *m_target = nullptr;
    std::multimap<qint64, LockTimer *>::iterator m_entry;
    bool m_queued = false;
    bool m_coarse = false;
    int m_id = 0;
};

class DistributedLockPrivate
{
public:
    explicit DistributedLockPrivate(DistributedLock *q) : q(q) { }

    LockManagerPrivate *managerPrivate() const;
    QString validate() const;
    void start(bool retry);
    void startAttempt();
    void onAcquireDecided(QuorumRound &round, quint64 attempt, qint64 t0);
    void onFenceDecided(QuorumRound &round, quint64 attempt);
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
    bool extending = false;
    int attempts = 0;
    qint64 acquireStartNs = 0;
    qint64 lastAttemptT0 = 0;

    LockTimer expiryTimer;
    LockTimer extendTimer;
    LockTimer retryTimer;
    std::shared_ptr<QuorumRound> lastRound;
};

} // namespace QRedlock
