// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// DistributedLock: one Redlock lock on one resource (or an atomic set of resources).
#pragma once

#include "lockmanager.h"
#include "qredlock_export.h"

#include <QtCore/QByteArray>
#include <QtCore/QObject>
#include <QtCore/QStringList>
#include <QtCore/QVariantList>

#include <chrono>
#include <memory>

namespace QRedlock {

class DistributedLockPrivate;

/*!
    A distributed lock over the servers of a LockManager, following the Redlock algorithm.

    All operations are asynchronous: acquire(), tryAcquire(), extend() and release() return
    at once and their outcome arrives as signals through the event loop, never from inside
    the call. While Locked, the lock knows how long it stays valid (remainingValidity());
    expired() fires when that time runs out, whatever the network does, and lost() fires as
    soon as a quorum of servers is known not to hold the lock any more. With autoExtend, the
    lease is renewed before it runs low.

    Safety: Redlock assumes bounded clock drift and bounded process pauses. For correctness
    (not only efficiency) pass fencingToken() to the protected resource and let it reject
    stale tokens.
*/
class QREDLOCK_EXPORT DistributedLock : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QRedlock::LockManager *manager READ manager WRITE setManager NOTIFY managerChanged)
    Q_PROPERTY(QString resource READ resource WRITE setResource NOTIFY resourcesChanged)
    Q_PROPERTY(QStringList resources READ resources WRITE setResources NOTIFY resourcesChanged)
    Q_PROPERTY(int ttl READ ttl WRITE setTtl NOTIFY ttlChanged)
    Q_PROPERTY(bool autoExtend READ autoExtend WRITE setAutoExtend NOTIFY autoExtendChanged)
    Q_PROPERTY(bool fencing READ fencing WRITE setFencing NOTIFY fencingChanged)
    Q_PROPERTY(int acquireTimeout READ acquireTimeout WRITE setAcquireTimeout NOTIFY acquireTimeoutChanged)
    Q_PROPERTY(bool active READ isActive WRITE setActive NOTIFY activeChanged)
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    Q_PROPERTY(bool locked READ isLocked NOTIFY lockedChanged)
    Q_PROPERTY(Error error READ error NOTIFY errorChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY errorChanged)
    Q_PROPERTY(int remainingValidity READ remainingValidity NOTIFY remainingValidityChanged)
    Q_PROPERTY(qint64 fencingToken READ fencingToken NOTIFY fencingTokenChanged)
    Q_PROPERTY(QByteArray token READ token NOTIFY tokenChanged)
    Q_PROPERTY(QVariantList serverStatus READ serverStatus NOTIFY serverStatusChanged)

public:
    enum class State { Unlocked, Acquiring, Locked, Releasing };
    Q_ENUM(State)

    enum class Error {
        NoError,
        Conflict,        // held elsewhere: servers refused because another token holds the key
        NoQuorum,        // too many servers unreachable or failing
        Timeout,         // a quorum granted, but too late: the validity had run out
        Cancelled,       // release() while acquiring, or the manager went away
        AuthError,       // a server refused our credentials (and no quorum without it)
        ProtocolError,   // a server answered something that is not RESP / not Redis
        InvalidArgument  // bad configuration: see errorString()
    };
    Q_ENUM(Error)

    //! What one server said in a round. Repaired: an extension found the key absent on this
    //! server (it restarted empty) and re-created it; such a server does not count toward the
    //! quorum of that round.
    enum class ServerResult { Pending, Granted, Refused, Timeout, Error, Repaired };
    Q_ENUM(ServerResult)

    //! What one server said in the last round (acquire, extend or release).
    struct ServerOutcome
    {
        using Result = ServerResult;
        QString server;        //!< URL without password
        Result result = Result::Pending;
        double latencyMs = -1; //!< -1 while pending
        QString detail;        //!< error text, if any
    };

    explicit DistributedLock(QObject *parent = nullptr);
    ~DistributedLock() override;   //!< a held lock is released

    LockManager *manager() const;  //!< the explicit one, or LockManager::defaultManager() when unset
    void setManager(LockManager *manager);

    QString resource() const;      //!< the first resource
    void setResource(const QString &resource);
    QStringList resources() const;
    void setResources(const QStringList &resources);

    int ttl() const;               //!< ms, default 30000
    void setTtl(int ms);
    bool autoExtend() const;       //!< default false
    void setAutoExtend(bool on);
    bool fencing() const;          //!< default false
    void setFencing(bool on);
    int acquireTimeout() const;    //!< ms; -1 (default): bounded by the manager's retryCount only
    void setAcquireTimeout(int ms);
    //! setTtl() with a std::chrono duration, as QTimer has. A value beyond the int range of
    //! milliseconds is refused with a warning (the TTL stays). Not a slot.
    void setTtl(std::chrono::milliseconds ttl);
    //! setAcquireTimeout() with a std::chrono duration; beyond the int range of milliseconds
    //! it is refused with a warning (the timeout stays). Not a slot.
    void setAcquireTimeout(std::chrono::milliseconds timeout);

    //! Declarative use: true acquires (in the next event-loop turn, once all properties are
    //! set), false releases.
    bool isActive() const;
    void setActive(bool active);

    //! Both follow the validity deadline whenever they are read: once it has passed, the lock
    //! reads Unlocked / false even before expired() is delivered (say, while a slot blocks
    //! the event loop), so a check right before a protected write never passes on a lapsed lock.
    State state() const;
    bool isLocked() const;
    Error error() const;           //!< of the latest call only: NoError after a success
    QString errorString() const;
    //! ms left while Locked, else 0. Its NOTIFY signal, remainingValidityChanged(), also
    //! fires while the lock is held, so that a binding shows a live countdown.
    int remainingValidity() const;
    qint64 fencingToken() const;   //!< -1 unless fencing and Locked (kept after release for logs)
    QByteArray token() const;      //!< the random value stored in Redis (hex), empty if none

    QList<ServerOutcome> serverOutcomes() const;
    QVariantList serverStatus() const;  //!< the same as maps: server, result, latencyMs, detail

public Q_SLOTS:
    void acquire();     //!< tries up to retryCount / acquireTimeout
    void tryAcquire();  //!< one attempt
    void extend();      //!< one extension round now (also done automatically with autoExtend)
    void release();     //!< idempotent; cancels an acquisition in progress
    //! Lets a held lock run out on the servers instead of releasing it: auto-extension stops,
    //! one extension round cuts the lease so that the lock stays valid for ms more (the TTL
    //! covers the drift allowance), and neither destroying this object nor its manager going
    //! away releases it any more; expired() follows at the end. Use it to keep a lock a minimum
    //! time after a quick job (ShedLock's lockAtLeastFor), also across a crash of this process.
    //! ms <= 0 releases now; release() still releases at once.
    void releaseAfter(int ms);

Q_SIGNALS:
    //! acquired() / acquireFailed(): the outcome of acquire() or tryAcquire(), once each call.
    //! extended(): a renewal was confirmed by a quorum; remainingValidity() grew.
    //! lost(): a quorum of servers no longer holds our token. expired(): the validity ran out
    //! first. After either, the lock is Unlocked and stays so until the next acquire().
    //! released(): release() finished on every server (answered or timed out).
    //! errorOccurred(): every failure, with error()/errorString() set; also a failed renewal
    //! that will be retried while the lock is still valid (the lock then stays Locked).
    void acquired();
    void acquireFailed();
    void extended();
    void lost();
    void expired();
    void released();
    void stateChanged();
    void lockedChanged();
    void errorOccurred(QRedlock::DistributedLock::Error error);
    void errorChanged();
    //! The validity was set by an event: the lock was acquired or extended, or it ended
    //! (released, lost, expired). Not emitted as time passes; see remainingValidityChanged().
    void validityChanged();
    //! The NOTIFY signal of remainingValidity, for live countdowns in bindings. Emitted on every
    //! change of state to or from Locked and on every extension, and while Locked as time
    //! passes: once a second while more than 10 s are left, every 100 ms below that (at the
    //! whole seconds, or tenths of a second, of the remaining validity). The periodic emission
    //! runs only while the lock is Locked and something is connected to this signal (a QML
    //! binding on remainingValidity counts): a lock nobody watches runs no timer for it.
    void remainingValidityChanged();
    void fencingTokenChanged();
    void tokenChanged();
    void serverStatusChanged();
    void managerChanged();
    void resourcesChanged();
    void ttlChanged();
    void autoExtendChanged();
    void fencingChanged();
    void acquireTimeoutChanged();
    void activeChanged();

protected:
    //! Starts the periodic remainingValidityChanged() of a held lock when the first receiver
    //! connects to it (a reimplementation must call this one).
    void connectNotify(const QMetaMethod &signal) override;

private:
    friend class DistributedLockPrivate;
    std::unique_ptr<DistributedLockPrivate> d;
};

} // namespace QRedlock
