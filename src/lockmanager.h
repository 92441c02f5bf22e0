// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// LockManager: the set of Redis servers a group of locks shares, and the timing policy.
#pragma once

#include "qredlock_export.h"

#include <QtCore/QObject>
#include <QtCore/QStringList>
#include <QtCore/QVariantList>

#include <chrono>
#include <memory>

namespace QRedlock {

class LockManagerPrivate;
class DistributedLock;
class LockInspection;

/*!
    Holds one connection per Redis server and runs the Redlock quorum rounds for any number
    of DistributedLock objects. A lock is held when a majority (quorum = N/2 + 1) of the
    servers granted it within its validity time.

    Servers are independent Redis masters (not replicas of each other, not a Redis Cluster).
    Use an odd number of them: an even number works but tolerates no more failures than the
    odd number below it.
*/
class QREDLOCK_EXPORT LockManager : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QStringList servers READ servers WRITE setServers NOTIFY serversChanged)
    Q_PROPERTY(int serverCount READ serverCount NOTIFY serversChanged)
    Q_PROPERTY(int quorum READ quorum NOTIFY serversChanged)
    Q_PROPERTY(double driftFactor READ driftFactor WRITE setDriftFactor NOTIFY driftFactorChanged)
    Q_PROPERTY(int serverTimeout READ serverTimeout WRITE setServerTimeout NOTIFY serverTimeoutChanged)
    Q_PROPERTY(int retryCount READ retryCount WRITE setRetryCount NOTIFY retryCountChanged)
    Q_PROPERTY(int retryDelay READ retryDelay WRITE setRetryDelay NOTIFY retryDelayChanged)
    Q_PROPERTY(int retryJitter READ retryJitter WRITE setRetryJitter NOTIFY retryJitterChanged)
    Q_PROPERTY(QString keyPrefix READ keyPrefix WRITE setKeyPrefix NOTIFY keyPrefixChanged)
    Q_PROPERTY(QString holderIdentity READ holderIdentity WRITE setHolderIdentity NOTIFY holderIdentityChanged)
    Q_PROPERTY(bool notifications READ notifications WRITE setNotifications NOTIFY notificationsChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY errorStringChanged)
    Q_PROPERTY(QVariantList serverStatus READ serverStatus NOTIFY serverStatusChanged)

public:
    explicit LockManager(QObject *parent = nullptr);
    ~LockManager() override;

    //! Replaces the server set. Returns false, keeps the previous set and says why in
    //! errorString() on bad input: no servers, a malformed URL, or the same server twice.
    QStringList servers() const;
    bool setServers(const QStringList &urls);
    int serverCount() const;
    int quorum() const;

    //! Clock drift allowance: validity = ttl - elapsed - (ttl * driftFactor + 2 ms). [0, 0.5)
    double driftFactor() const;
    bool setDriftFactor(double factor);

    //! Per-server deadline of one request (ms, > 0). Default 250.
    int serverTimeout() const;
    bool setServerTimeout(int ms);

    //! How many times acquire() tries again after a failed attempt (-1: until acquireTimeout). Default 10.
    int retryCount() const;
    bool setRetryCount(int count);
    //! Pause between attempts (ms, >= 0), randomised by +/- retryJitter (ms, >= 0). Defaults 200 / 100.
    int retryDelay() const;
    bool setRetryDelay(int ms);
    int retryJitter() const;
    bool setRetryJitter(int ms);
    //! setServerTimeout() with a std::chrono duration, as QTimer has. A value beyond the int
    //! range of milliseconds is refused: false, errorString() says why, and a warning.
    bool setServerTimeout(std::chrono::milliseconds timeout);
    //! setRetryDelay() with a std::chrono duration; beyond the int range: refused, as above.
    bool setRetryDelay(std::chrono::milliseconds delay);
    //! setRetryJitter() with a std::chrono duration; beyond the int range: refused, as above.
    bool setRetryJitter(std::chrono::milliseconds jitter);

    //! Prepended to every resource name to form the Redis key. Default empty.
    QString keyPrefix() const;
    void setKeyPrefix(const QString &prefix);

    //! Who this manager's locks say holds them: carried in every token it writes, so that
    //! any client (inspect(), `qredlock status`) can tell. Default "host/pid/application".
    //! Other Redlock clients still see an opaque value. Setting an empty string restores the
    //! default.
    QString holderIdentity() const;
    void setHolderIdentity(const QString &identity);

    //! Push coordination (default true): a waiting acquire() subscribes to the release channel
    //! of its resources and tries again as soon as a release is published, waiting locks queue
    //! on the servers so that the one who waited longest gets a released lock, and a holder
    //! hears of changes to its keys at once (client tracking) and re-checks them. False: plain
    //! polling every retryDelay, losses found at the next extension. Servers whose ACL denies
    //! SUBSCRIBE or CLIENT fall back to polling by themselves (one warning).
    bool notifications() const;
    void setNotifications(bool on);

    //! Asks every server about the lock on resource: who holds it, for how long, each
    //! server's view. The job finishes once every server answered or timed out; it deletes
    //! itself after finished() unless setAutoDelete(false). Never finishes synchronously.
    Q_INVOKABLE QRedlock::LockInspection *inspect(const QString &resource);
    //! An operator's release: compare-and-delete of the key on every server, then an
    //! inspection (info() tells the state afterwards; each server map says "removed").
    //! An empty token deletes whatever holds the key (logged at warning level, with the
    //! holder it removed). The holder gets lost(): at once with notifications (client
    //! tracking), else at its next extension.
    Q_INVOKABLE QRedlock::LockInspection *forceRelease(const QString &resource, const QByteArray &token);

    QString errorString() const;

    //! The shortest TTL a lock on this manager accepts: a lease must leave room for a few
    //! server timeouts after its clock-drift allowance to be renewed in time, so
    //! ceil((4 x serverTimeout + 2 ms) / (1 - driftFactor)); 1013 ms with the defaults.
    //! Shorter TTLs fail with DistributedLock::Error::InvalidArgument.
    int minimumTtl() const;

    //! How much validity should be left when a holder whose lease could not be renewed stops
    //! its protected work: a third of the TTL (renewals start at a third). SingletonJob cancels
    //! its run then, and `qredlock run` terminates its command.
    static int renewalMargin(int ttlMs);

    //! One map per server: url (password hidden), connected (bool), state, lastError.
    QVariantList serverStatus() const;

    //! A process-wide manager configured from QREDLOCK_SERVERS (comma-separated URLs),
    //! created on first use and destroyed with the QCoreApplication.
    static LockManager *defaultManager();

Q_SIGNALS:
    void serversChanged();
    void driftFactorChanged();
    void serverTimeoutChanged();
    void retryCountChanged();
    void retryDelayChanged();
    void retryJitterChanged();
    void keyPrefixChanged();
    void holderIdentityChanged();
    void notificationsChanged();
    void errorStringChanged();
    void serverStatusChanged();

private:
    friend class LockManagerPrivate;
    std::unique_ptr<LockManagerPrivate> d;
};

} // namespace QRedlock
