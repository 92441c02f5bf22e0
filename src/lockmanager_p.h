// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Private parts of LockManager: servers, scripts, the key schema and the timing policy.
#pragma once

#include "lockmanager.h"
#include "locknotifier_p.h"
#include "quorumround_p.h"
#include "redisconnection_p.h"

#include <functional>
#include <memory>
#include <unordered_set>
#include <vector>

namespace QRedlock {

class JobRecord;
class LockInspection;

class LockManagerPrivate
{
public:
    explicit LockManagerPrivate(LockManager *q);

    static LockManagerPrivate *get(LockManager *m) { return m->d.get(); }

    bool setError(const QString &message);
    bool validateAndBuild(const QStringList &urls, QList<RedisEndpoint> *endpoints);
    void rebuildConnections();
    RedisConnection::Options connectionOptions() const;

    // ---- the timing policy: every rule once, here ----
    static constexpr double DefaultDriftFactor = 0.01;
    static constexpr int DefaultServerTimeout = 250;
    static constexpr int DefaultRetryCount = 10;
    static constexpr int DefaultRetryDelay = 200;
    static constexpr int DefaultRetryJitter = 100;
    // For callers that may have no manager: its values, or the defaults.
    static const LockManagerPrivate &orDefaults(const LockManagerPrivate *mp);

    int quorum() const { return int(connections.size()) / 2 + 1; }
    int minimumTtl() const;
    // retryDelay +/- max(retryJitter, minimumJitter), never negative.
    int jitteredRetryDelay(int minimumJitter = 0) const;
    // The TTL whose validity (ttl - drift allowance) covers holdMs.
    int ttlCovering(qint64 holdMs) const;
    // Retry pause of a failed renewal while validity remains (leftMs).
    int renewalRetryDelay(int leftMs) const;
    // ---- waiting (the rest of the timing policy) ----
    // The longest a waiter waits for its SUBSCRIBE confirmations before its next attempt.
    static constexpr int SubscribeWaitMs = 5;
    // While a waiter is woken by pushes (its release channels subscribed and its keys tracked
    // on enough servers, LockNotifier::covers()), it does not poll: it tries again on a
    // release, a change to the keys, the holder's PTTL, a reservation's end, or after this
    // safety net at the latest (jittered down by up to a quarter, never below the polling pause).
    static constexpr int WaitSafetyNetMs = 20000;
    // A new holder starts watching its keys (and reads them once, which is what makes client
    // tracking report other clients' writes) this long after the grant: a lock released
    // sooner costs no watch and no read, and a change before the read is still caught by it
    // (the read compares the token). Loss is then known within this delay and a round trip.
    static constexpr int WatchDelayMs = 20;
    // A waiter handed the keys by one server's release waits this long at most for the same
    // news from a quorum of them before it attempts: the release reaches the servers one
    // after another, and an attempt that overtakes it on some finds the old holder's keys
    // there (a split round, then another round). A server that is down or denies PUBLISH
    // costs a handoff this much at most.
    static constexpr int HandoffGraceMs = 5;
    int waitSafetyNet() const;
    // How long a waiter's queue entry lives on a server without a new attempt: longer than
    // the longest pause of a live waiter (the safety net, or polling's retryDelay + jitter)
    // plus a round that timed out, so only dead waiters drop out of the queue.
    int waiterEntryTtl() const;
    // The longest a freed key stays reserved for the head of its queue, and the longest the
    // head's entry lives on after that: a dead head blocks the queue for this long at most.
    // Covers a polling head's pause (retryDelay + jitter) and a timed-out round.
    int reservationMs() const;
    // The pause of a waiter after a refused attempt: the holder's remaining PTTL when that
    // is shorter than the longest pause (the safety net when pushed, else the jittered
    // retryDelay); a wake-up cuts it short.
    int waitRetryDelay(qint64 holderPttlMs, bool pushed) const;
    // A waiter's attempts as retryCount counts them: in time, as polling would have made
    // them (1 + retryDelays since acquire() began), so that wake-ups cost no retries and a
    // waiter gives up when a polling one would have. waitedNs: since acquire() began.
    int chargedAttempts(qint64 waitedNs, int madeAttempts) const;
    // The wait since acquire() began after which chargedAttempts() exceeds retryCount (-1: never).
    qint64 patienceNs() const;
    void checkServerIdentities();
    qint64 driftMarginNs(int ttlMs) const;
    // ---- the key schema: every rule once, here (lockmanager.cpp) ----
    // Lock keys: prefix + resource; fencing counters: the lock key + ":fencing".
    QList<QByteArray> keysFor(const QStringList &resources) const;
    // The key schema's handoff queue of each key: key + ":waiters" (the order) and
    // key + ":waiters:expiry" (when each entry dies): keys, then all queues, then all expiries.
    // The release script derives both from the lock key with these suffixes (it is built
    // with them), so that an uncontended release carries no queue names.
    static constexpr const char QueueSuffix[] = ":waiters";
    static constexpr const char QueueExpirySuffix[] = ":waiters:expiry";
    static QList<QByteArray> withQueues(const QList<QByteArray> &keys);
    // The release script's ARGV (LockScripts::release()): the token, the longest reservation,
    // and the id of a waiter that leaves the queue when there is one.
    QList<QByteArray> releaseArgs(const QByteArray &token, const QByteArray &leavingWaiter) const;
    // The channel a release of a lock key is published on: the key + ":released", so under
    // the key prefix (one ACL pattern covers keys and channels). The release script is built
    // with this suffix, the notifier is given it, and so is the operator's release (forceRelease).
    static constexpr const char ReleaseChannelSuffix[] = ":released";
    static QByteArray releaseChannel(const QByteArray &key);
    // A scheduled job's occurrence is locked as the resource <resource>:at:<ms> (ms since the
    // epoch, UTC, of the occurrence's instant), so that every instance derives the same key.
    static QString occurrenceResource(const QString &resource, qint64 occurrenceMs);
    // A job's record: prefix + resource + ":record", a hash (see jobrecord.cpp).
    QByteArray recordKeyFor(const QString &resource) const;

    // Round kinds. Keys are full Redis keys (prefix applied).
    std::shared_ptr<QuorumRound> acquire(const QList<QByteArray> &keys, const QByteArray &token, int ttlMs,
                                         bool fencing);
    std::shared_ptr<QuorumRound> raiseFence(const QList<QByteArray> &keys, const QByteArray &token, qint64 value);
    // fencingToken > 0: repairs only where the counters are not above it, and raises them.
    std::shared_ptr<QuorumRound> extend(const QList<QByteArray> &keys, const QByteArray &token, int ttlMs,
                                        qint64 fencingToken);
    // leavingWaiter: a waiter id whose queue entries (and a key reserved for it) go too.
    std::shared_ptr<QuorumRound> release(const QList<QByteArray> &keys, const QByteArray &token,
                                         const QByteArray &leavingWaiter);
    // A waiter's attempt: takes the keys when free for it, else queues it; each server's
    // reply carries the holder's PTTL (Server::pttl).
    std::shared_ptr<QuorumRound> acquireQueued(const QList<QByteArray> &keys, const QByteArray &token, int ttlMs,
                                               bool fencing, const QByteArray &waiterId, qint64 arrivalMs);
    // Granted where every key still holds token.
    std::shared_ptr<QuorumRound> check(const QList<QByteArray> &keys, const QByteArray &token);
    // A waiter's look at a single key after a change was reported: PTTL (which also tracks
    // the key again for the connection). Granted where the key is gone, else Refused with
    // Server::pttl (-1: no expiry).
    std::shared_ptr<QuorumRound> probe(const QByteArray &key);
    // GET of one key on every server (Mode::All): Granted with Server::value where it answered.
    // A held lock's first read of its key, which client tracking needs.
    std::shared_ptr<QuorumRound> readKey(const QByteArray &key);
    // The cleanup of a failed attempt, sent only to the servers with send[i] (those that
    // did not refuse: a refusing server's script set nothing of ours). Fire and forget. Too
    // few granted for a quorum, so what it frees is not handed to a waiter (deleteOwn()).
    void releaseOn(const QList<QByteArray> &keys, const QByteArray &token, const std::vector<bool> &send);

    // The job record (jobrecord.cpp). The write needs a quorum of servers on which the lock
    // key of lockResource still holds token and no later occurrence is on record; the read
    // takes the newest record of a quorum. The callbacks run once, through the event loop.
    using RecordWritten = std::function<void(bool ok, const QString &error)>;
    using RecordRead = std::function<void(bool ok, const JobRecord &record, const QString &error)>;
    void writeRecord(const QString &lockResource, const QByteArray &token, const QString &resource,
                     const JobRecord &record, qint64 ttlMs, RecordWritten done);
    void readRecord(const QString &resource, RecordRead done);

    // Inspection: reads the key and its fencing counter on every server, then finishes the
    // job; with forcedRelease, deletes the key first (empty token: whatever holds it).
    void startInspection(LockInspection *job, const QString &resource);
    void startForcedRelease(LockInspection *job, const QString &resource, const QByteArray &token);

    // The token format: 160 random bits (40 hex digits), then '-' and the percent-encoded
    // holder identity; printable, no whitespace, at most 255 bytes. holderOf() reads the
    // identity back (empty for tokens of other Redlock clients).
    QByteArray newToken() const;
    static QString holderOf(const QByteArray &token);
    QString effectiveHolderIdentity() const;
    static QString describeHolder(const QByteArray &token); // identity (or "another client"), short token
    QStringList printableUrls() const;

    // Starts the round on every server; onDecided runs once, through the event loop.
    void run(const std::shared_ptr<QuorumRound> &round, const QList<QByteArray> &argv);
    void runScript(const std::shared_ptr<QuorumRound> &round, const RedisScript &script,
                   const QList<QByteArray> &keys, const QList<QByteArray> &args);

    LockManager *q;
    // Wake-ups and loss reports; null only in orDefaults()'s instance.
    std::unique_ptr<LockNotifier> notifier;
    bool notifications = true;
    QStringList urls;
    QList<RedisEndpoint> endpoints;
    std::vector<RedisConnection *> connections;
    double driftFactor = DefaultDriftFactor;
    int serverTimeout = DefaultServerTimeout;
    int retryCount = DefaultRetryCount;
    int retryDelay = DefaultRetryDelay;
    int retryJitter = DefaultRetryJitter;
    QString keyPrefix;
    QString holderIdentity;     // empty: the default (host/pid/application)
    bool holderIdentitySet = false;
    mutable QString defaultIdentityHost; // "host/pid" of the default identity, read once
    mutable QString encodedIdentityOf; // newToken()'s cache: the identity encodedIdentity encodes
    mutable QByteArray encodedIdentity;
    static QByteArray encodeIdentity(const QString &identity); // the token's holder part
    QString errorString;
    QString identityConflict;   // two entries answered with the same run_id
    // The locks that acquired through this manager, told when it is destroyed: first
    // managerClosing(), while the connections can still carry commands (held locks release),
    // then managerGone() once it is gone (QPointers to it are null by then). An entry is a
    // pointer in a set (10,000 locks took a connection to destroyed() and a callback each,
    // some 300 bytes a lock); a lock removes itself before it is destroyed.
    class Client
    {
    public:
        virtual QObject *clientObject() const = 0;
        virtual void managerClosing() = 0;
        virtual void managerGone() = 0;

    protected:
        ~Client() = default;
    };
    std::unordered_set<Client *> clients;

    const RedisScript acquireMultiScript;
    const RedisScript acquireFencedScript;
    const RedisScript raiseFenceScript;
    const RedisScript extendScript;
    const RedisScript releaseScript;
    const RedisScript inspectScript;
    const RedisScript forceReleaseScript;
    const RedisScript acquireQueuedScript;
    const RedisScript checkScript;
    const RedisScript deleteOwnScript;
};

} // namespace QRedlock
