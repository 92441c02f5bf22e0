// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// LockNotifier: the manager's push side. One subscriber connection per server, opened only
// while something waits or is watched, shared by every lock of the manager:
//  - waits: on lock keys, whose release channels (the key + the channel suffix the manager
//    gives, LockManagerPrivate::releaseChannel()) are subscribed with SUBSCRIBE, one channel
//    per command; a `message` on a channel wakes the waits on its key. A wait also watches
//    its keys (below): a change to a key waited for may let the waiter in;
//  - watches: keys of held (or waited-for) locks; the main connections send their
//    invalidations here (CLIENT TRACKING ON REDIRECT <this connection's id> NOLOOP, default
//    mode: a key is tracked once the main connection read it, until it changes, so a watch's
//    owner reads its keys after tracking went on and again after every change; every write
//    of its own drops the key too), and a watch hears of every invalidation of its keys, and
//    of every (re)start of tracking on a server: changes before it were not reported.
// One table by key serves both (a waiting lock costs one entry, shared with the other locks
// of the manager on that key). Knows channels, keys and listeners; nothing about locks. When a server refuses SUBSCRIBE or
// CLIENT (ACL, an old server) that server is left to polling, said once at warning level.
#pragma once

#include "redisconnection_p.h"

#include <QtCore/QHash>
#include <QtCore/QObject>
#include <QtCore/QVarLengthArray>

#include <functional>
#include <unordered_map>
#include <vector>

namespace QRedlock {

class LockNotifier : public QObject
{
    Q_OBJECT
public:
    // Who hears of its waits and watches. Held as a plain pointer (a wait or a watch is a few
    // dozen bytes, not a block per callback): a listener removes its waits and watches before
    // it is destroyed.
    class Listener
    {
    public:
        // Every server has confirmed or refused every channel of the wait. Once, through the
        // event loop.
        virtual void waitReady(quint64 waitId) = 0;
        // A release was published on one of the wait's channels (server: whose subscriber
        // connection heard it; payload: the waiter it was handed to), or, with an empty
        // payload, a subscriber connection came back and a release may have been missed.
        virtual void released(quint64 waitId, int server, const QByteArray &payload) = 0;
        // The watch's keys may have changed on that server. written: that server reported a
        // write to one of them (another client's DEL or SET, an expiry): it is up and kept its
        // data. Otherwise tracking (re)started or the data was flushed: changes before it went
        // unreported, and the server may have restarted without its data.
        virtual void keysChanged(quint64 watchId, int server, bool written) = 0;

    protected:
        ~Listener() = default;
    };

    // The channel of key invalidations (RESP2 client tracking with REDIRECT).
    static constexpr const char InvalidateChannel[] = "__redis__:invalidate";

    // channelSuffix: a key's release channel is the key followed by it.
    explicit LockNotifier(const QByteArray &channelSuffix, QObject *parent = nullptr);
    ~LockNotifier() override;

    // The main connections, for CLIENT TRACKING; the subscriber connections use the same
    // endpoints and options. Drops every subscription; waits and watches stay.
    void setServers(const std::vector<RedisConnection *> &mainConnections, const RedisConnection::Options &options);
    void setOptions(const RedisConnection::Options &options);
    void setEnabled(bool on);
    bool isEnabled() const { return m_enabled; }

    // A wait on keys. waitReady() runs once, through the event loop, when every server has
    // confirmed or refused every key's channel subscription; released() on every release
    // published on one of them, and with an empty payload when a subscriber connection came
    // back; keysChanged() as for a watch on the keys (tracking goes on before the channels are
    // subscribed, so before the attempt that follows waitReady()).
    quint64 addWait(const QList<QByteArray> &keys, Listener *listener);
    void removeWait(quint64 id);

    // A watch on held keys: changed(server) on every invalidation of one of them on that
    // server, and when the server's subscriber connection came back (or was denied tracking
    // only after a change could have been missed).
    quint64 addWatch(const QList<QByteArray> &keys, Listener *listener);
    void removeWatch(quint64 id);

    // Whether a release or a change of the wait's keys on this server reaches the wait: its
    // channels are subscribed there and tracking is on (the keys count once read after it).
    bool covers(quint64 waitId, int server) const;
    int serverCount() const { return int(m_servers.size()); }

    // For tests and diagnostics.
    int channelCount() const { return m_channelCount; }
    int waitCount() const { return int(m_waits.size()); }
    int watchCount() const { return int(m_watches.size()); }
    int openConnections() const;

private:
    enum class Sub : quint8 { Pending, Subscribed, Failed };
    // What listens on one key: waits (its release channel is subscribed while there is one)
    // and watches. Inline for the common case (one lock, up to eight servers): no blocks of
    // their own beside the hash's node.
    struct Key
    {
        QVarLengthArray<quint64, 1> ids; // waits and watches
        QVarLengthArray<Sub, 8> state;   // of the channel, per server (while waits > 0)
        quint32 generation = 0;          // this incarnation of the channel (names come back)
        quint32 waits = 0;
        bool subscribed() const { return waits > 0; }
        void resetState(size_t servers)
        {
            state.clear();
            state.insert(state.cend(), qsizetype(servers), Sub::Failed);
        }
    };
    struct Wait
    {
        QList<QByteArray> keys;
        Listener *listener = nullptr;
        bool readySent = false;
    };
    struct Watch
    {
        QList<QByteArray> keys;
        Listener *listener = nullptr;
    };
    struct Server
    {
        RedisConnection *main = nullptr;       // the manager's, for CLIENT TRACKING
        RedisConnection *subscriber = nullptr; // ours, lazily opened
        bool subscribeDenied = false;
        bool trackingDenied = false;
        bool outage = false;     // the subscriber connection dropped since it was ready
        bool tracking = false;   // CLIENT TRACKING is on, redirected to the current subscriber
        bool idRequested = false; // CLIENT ID sent on the current subscriber connection
        qint64 subscriberId = -1;
        quint32 epoch = 0;       // the subscriber connection's life: replies of an older one are stale
    };

    RedisConnection *subscriberFor(int server);
    void requestClientId(int server); // the redirect target of CLIENT TRACKING
    QByteArray channelOf(const QByteArray &key) const { return key + m_channelSuffix; }
    bool watching() const { return !m_watches.empty() || !m_waits.empty(); } // tracking is wanted
    void addListener(quint64 id, const QList<QByteArray> &keys, bool wait);
    void removeListener(quint64 id, const QList<QByteArray> &keys, bool wait);
    void subscribe(const QByteArray &key, Key &entry, int server);
    void onSubscribed(const QByteArray &key, quint32 generation, int server, quint32 epoch, const RedisReply &reply);
    void checkReady(quint64 waitId);
    void onMessage(int server, const RedisValue &message);
    void onSubscriberReady(int server);
    void onSubscriberLost(int server);
    void startTracking(int server);
    void notifyWatches(int server, const QByteArray *key); // and the waits: their keys may have changed
    void keysChanged(quint64 id, int server, bool written);
    void denied(int server, const QString &what, const QString &why);
    void scheduleIdleCheck();
    void closeIfIdle();
    void closeSubscribers();

    bool m_enabled = true;
    bool m_idleCheckQueued = false;
    int m_channelCount = 0; // keys with a wait
    const QByteArray m_channelSuffix;
    RedisConnection::Options m_options;
    std::vector<Server> m_servers;
    QHash<QByteArray, Key> m_keys;
    std::unordered_map<quint64, Wait> m_waits;
    std::unordered_map<quint64, Watch> m_watches;
    quint64 m_nextId = 0;
    quint32 m_generations = 0; // channel incarnations and subscriber connection lives
};

} // namespace QRedlock
