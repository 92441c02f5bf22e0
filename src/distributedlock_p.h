// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#pragma once

#include "distributedlock.h"
#include "lockmanager_p.h"
#include "locknotifier_p.h"
#include "locktimer_p.h"

#include <QtCore/QPointer>

#include <map>
#include <vector>

namespace QRedlock {

// Shared by distributedlock*.cpp.
constexpr qint64 NsPerMs = 1000000;
int msUntil(qint64 deadlineNs); // ms left until a monotonicNs() deadline (0 once it passed)
// What a failed round means for the caller: Conflict only when a quorum answered and one of
// them refused; otherwise an outage, named as credentials or protocol where those made it.
DistributedLock::Error errorFor(const QuorumRound &round);

class DistributedLockPrivate : public LockNotifier::Listener, public LockManagerPrivate::Client
{
public:
    explicit DistributedLockPrivate(DistributedLock *q) : q(q) { }
    virtual ~DistributedLockPrivate() = default;
    static DistributedLockPrivate *get(DistributedLock *lock) { return lock->d.get(); }

    void onExpiryTimer() { onExpired(); }
    void onRetryTimer()
    {
        if (state == DistributedLock::State::Acquiring)
            startAttempt();
    }

    // ---- push coordination (LockManager::notifications) ----
    bool pushEnabled() const;
    static QByteArray newWaiterId();
    void startWaiting();     // subscribes through the manager; the next attempt follows the confirmation
    void endWait();
    // LockNotifier::Listener: the wait (waitId, which also watches the keys waited for) and
    // the watch of the held keys (watchId).
    void waitReady(quint64 id) override;
    void released(quint64 id, int server, const QByteArray &payload) override;
    void keysChanged(quint64 id, int server, bool written) override;
    void onWake(int server, const QByteArray &payload);
    int handoffQuorum() const; // publishes of our turn worth waiting for before the attempt
    void startWatch();       // a held lock hears of changes to its keys
    void endWatch();
    void onKeysChanged(bool written = false); // written: see LockNotifier::Listener::keysChanged()
    // Reads the held keys once (client tracking watches a key once the connection read it;
    // our own SET did not count) and re-checks if one no longer holds our token.
    void readWatchedKeys();
    void onWatchTimer(); // the watch of a held lock begins (startWatch(), readWatchedKeys())
    // A waiter's side: a change of the keys it waits for (tracked since its attempt read
    // them) is looked at with a cheap probe, and the pause after a failed look.
    void onWaitKeysChanged();
    void startProbe();
    void onProbeDecided(QuorumRound &round);
    bool pushCovered() const; // a change that could let us in would be heard of
    int coveredServers() const; // servers on which our wait is subscribed and tracked (LockNotifier::covers())
    int waitPause() const;
    void startRetryTimer(int ms);

    LockManagerPrivate *managerPrivate() const;
    QString validate() const;
    void start(bool retry);
    void startAttempt();
    void onAcquireDecided(QuorumRound &round, quint64 attempt, qint64 t0);
    // described: the refused round, whose description is the message (made only when needed).
    void attemptFailed(DistributedLock::Error error, const QString &message, bool needsCleanup = true,
                       const QuorumRound *described = nullptr);
    bool retryAllowed(DistributedLock::Error error, int delayMs) const;
    bool lapsed() const; // Locked, but the validity deadline has passed (expired() not yet handled)
    void becomeLocked();
    void startExtension();
    void onExtendDecided(QuorumRound &round, quint64 attempt, qint64 t1);
    void scheduleExtension(qint64 fromNs);
    void endHolding(); // the steps onExpired() and onLost() share
    void onExpired();
    void onLost(const QString &message);
    // leaveQueue: the acquisition ends, so its queue entries on the servers go too.
    void cleanup(const QByteArray &token, bool leaveQueue = true);
    void finishRelease();
    void stopTimers();
    void setState(DistributedLock::State s);
    // remainingValidityChanged(): now, and the periodic one while Locked and watched.
    void notifyRemainingValidity();
    void armValidityTick();
    void onValidityTick();
    bool validityWatched() const;
    void setError(DistributedLock::Error e, const QString &message);
    void emitErrorLater(DistributedLock::Error e, const QString &message, bool acquireFailed);
    // The last round's answers are kept as outcomes (serverOutcomes()); the round itself goes
    // once every server answered.
    void trackRound(const std::shared_ptr<QuorumRound> &round);
    QString describeRound(const QuorumRound &round) const;
    // A refused attempt that will be retried says why only when asked: the message is made
    // from the outcomes on the first read of errorString (a waiting lock keeps no string).
    QString notAcquired(const QuorumRound &round) const;
    void materializeError() const;
    int jitteredRetryDelay() const;
    qint64 validityEndNs(qint64 startNs) const; // start + ttl - drift allowance
    void newToken();
    void onManagerDestroyed();
    // LockManagerPrivate::Client: the manager's list of its locks (attached: we are on it).
    QObject *clientObject() const override { return q; }
    void managerClosing() override;
    void managerGone() override;
    void detachFromManager(); // ends the wait and the watches, leaves the current manager's list

    DistributedLock *q;
    QPointer<LockManager> manager;
    bool attached = false;
    QStringList resources;
    QList<QByteArray> keys;
    int ttl = 30000;
    bool autoExtend = false;
    bool fencing = false;
    int acquireTimeout = -1;
    bool active = false;

    DistributedLock::State state = DistributedLock::State::Unlocked;
    DistributedLock::Error error = DistributedLock::Error::NoError;
    mutable QString errorString;
    mutable bool errorDeferred = false; // errorString is notAcquired() of the outcomes (materializeError())
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
    LockTimer validityTickTimer { [this] { onValidityTick(); } };
    LockTimer watchTimer { [this] { onWatchTimer(); } }; // LockManagerPrivate::WatchDelayMs
    struct Outcome
    {
        QuorumRound::Result result = QuorumRound::Result::Pending;
        qint64 latencyNs = -1;
        QString detail;
    };
    std::vector<Outcome> outcomes; // of the last tracked round, updated as its answers come
    int outcomesQuorum = 0;
    quint64 outcomesRound = 0;     // which tracked round they belong to

    // Waiting: one id per acquire() in the servers' queues, ordered by arrivalMs.
    QByteArray waiterId;
    qint64 arrivalMs = 0;
    quint64 waitId = 0;           // the manager's wait, 0: none
    quint64 waitGeneration = 0;   // the generation when it began (a later attempt makes it moot)
    bool queued = false;          // an attempt of this acquisition queued us on the servers
    bool subscribing = false;     // the next attempt waits for the subscription
    bool attemptInFlight = false;
    bool wokenDuringAttempt = false; // a release was published meanwhile: attempt at once
    bool changedDuringLook = false;  // the keys changed meanwhile: look again
    qint64 holderPttl = -1;       // from the last refused queued attempt (or probe)
    bool probing = false;
    qint64 retryDueNs = 0;        // when retryTimer fires, while it is active
    // The servers whose release handed the keys to us since the last attempt: we attempt when
    // handoffQuorum() have, or LockManagerPrivate::HandoffGraceMs after the first.
    std::vector<bool> handedBy;
    int handedCount = 0;
    // Another waiter's turn was published until then: changes to the keys are its handoff and
    // its grant, not a chance for us, and are not looked at (our retry timer covers its turn).
    qint64 otherTurnUntilNs = 0;
    qint64 attemptDueNs = 0;      // the next attempt a failed one scheduled (looks do not delay it)
    // Holding: the manager's watch on the keys, and the re-check it starts.
    quint64 watchId = 0;
    bool checking = false;
    bool recheck = false;
    bool recheckWritten = false; // a change while checking was a reported write
};

} // namespace QRedlock
