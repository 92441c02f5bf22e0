// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "locknotifier_p.h"

#include "logging_p.h"

#include <QtCore/QTimer>

namespace QRedlock {

namespace {
// A subscriber connection with nothing to listen for is closed after this long: a lock pool
// that takes and returns locks all the time keeps it, one wait now and then does not.
constexpr int IdleCloseMs = 2000;

bool isConfirmation(const RedisReply &reply, const char *kind, const QByteArray &channel)
{
    const RedisValue &v = reply.value;
    return reply.ok() && v.type == RedisValue::Type::Array && v.elements.size() == 3
            && v.elements.at(0).string == kind && v.elements.at(1).string == channel;
}
} // namespace

LockNotifier::LockNotifier(const QByteArray &channelSuffix, QObject *parent)
    : QObject(parent), m_channelSuffix(channelSuffix)
{
}

LockNotifier::~LockNotifier()
{
    for (Server &s : m_servers)
        delete s.subscriber; // no callbacks: the connection's destructor drops them
}

int LockNotifier::openConnections() const
{
    int n = 0;
    for (const Server &s : m_servers)
        n += s.subscriber ? 1 : 0;
    return n;
}

void LockNotifier::setOptions(const RedisConnection::Options &options)
{
    m_options = options;
    for (Server &s : m_servers) {
        if (s.subscriber)
            s.subscriber->setOptions(options);
    }
}

void LockNotifier::setServers(const std::vector<RedisConnection *> &mains, const RedisConnection::Options &options)
{
    closeSubscribers();
    m_servers.clear();
    m_servers.resize(mains.size());
    m_options = options;
    for (size_t i = 0; i < mains.size(); ++i) {
        Server &s = m_servers[i];
        s.main = mains[i];
        const int index = int(i);
        // A main connection that comes back is a new client: tracking is off on it, and its
        // server may have restarted without its data. Every watch re-checks.
        connect(s.main, &RedisConnection::connectionLost, this, [this, index] {
            if (size_t(index) < m_servers.size())
                m_servers[size_t(index)].tracking = false;
        });
        connect(s.main, &RedisConnection::ready, this, [this, index] {
            if (!watching() || size_t(index) >= m_servers.size())
                return;
            startTracking(index);
            notifyWatches(index, nullptr);
        });
    }
    // The channels are subscribed anew on the new servers.
    for (auto it = m_keys.begin(); it != m_keys.end(); ++it) {
        if (!it->subscribed())
            continue;
        it->resetState(m_servers.size());
        it->generation = ++m_generations;
        for (int i = 0; i < int(m_servers.size()); ++i)
            subscribe(it.key(), it.value(), i);
    }
    for (int i = 0; i < int(m_servers.size()) && watching(); ++i)
        startTracking(i);
}

void LockNotifier::setEnabled(bool on)
{
    if (m_enabled == on)
        return;
    m_enabled = on;
    if (!on) {
        // Waits and watches stay (their owners end them); nothing is listened to any more.
        for (auto it = m_keys.begin(); it != m_keys.end(); ++it) {
            if (it->subscribed())
                it->resetState(m_servers.size());
        }
        closeSubscribers();
        const std::vector<quint64> ids = [this] {
            std::vector<quint64> v;
            for (const auto &w : m_waits)
                v.push_back(w.first);
            return v;
        }();
        for (quint64 id : ids)
            checkReady(id);
    }
}

RedisConnection *LockNotifier::subscriberFor(int index)
{
    Server &s = m_servers[size_t(index)];
    if (s.subscriber)
        return s.subscriber;
    auto *c = new RedisConnection(s.main->endpoint(), this);
    c->setOptions(m_options);
    c->setPushHandler([this, index](const RedisValue &message) { onMessage(index, message); });
    connect(c, &RedisConnection::ready, this, [this, index] { onSubscriberReady(index); });
    connect(c, &RedisConnection::connectionLost, this, [this, index] { onSubscriberLost(index); });
    s.subscriber = c;
    s.outage = false;
    s.subscriberId = -1;
    s.epoch = ++m_generations;
    // Before any SUBSCRIBE: a subscribed RESP2 connection accepts no other command.
    requestClientId(index);
    c->open();
    return c;
}

void LockNotifier::requestClientId(int index)
{
    Server &s = m_servers[size_t(index)];
    RedisConnection *c = s.subscriber;
    s.idRequested = true;
    const quint32 epoch = s.epoch;
    c->send({ QByteArrayLiteral("CLIENT"), QByteArrayLiteral("ID") }, [this, index, c, epoch](const RedisReply &r) {
        if (size_t(index) >= m_servers.size() || m_servers[size_t(index)].subscriber != c
            || m_servers[size_t(index)].epoch != epoch)
            return;
        if (r.failure != RedisFailure::None && r.failure != RedisFailure::Auth) {
            m_servers[size_t(index)].idRequested = false; // not connected: again when it is
            return;
        }
        if (r.ok() && r.value.type == RedisValue::Type::Integer) {
            m_servers[size_t(index)].subscriberId = r.value.integer;
            if (watching())
                startTracking(index);
        } else if (r.ok() || r.failure == RedisFailure::Auth) {
            denied(index, QStringLiteral("CLIENT TRACKING"),
                   r.errorString.isEmpty() ? QString::fromUtf8(r.value.string) : r.errorString);
        }
    });
}

void LockNotifier::subscribe(const QByteArray &key, Key &entry, int index)
{
    Server &s = m_servers[size_t(index)];
    if (!m_enabled || s.subscribeDenied) {
        entry.state[index] = Sub::Failed;
        return;
    }
    entry.state[index] = Sub::Pending;
    const quint32 generation = entry.generation;
    RedisConnection *c = subscriberFor(index);
    if (!s.idRequested) // the connection is being made anew: CLIENT ID before any SUBSCRIBE
        requestClientId(index);
    const quint32 epoch = s.epoch;
    c->send({ QByteArrayLiteral("SUBSCRIBE"), channelOf(key) },
            [this, key, generation, index, epoch](const RedisReply &reply) {
                onSubscribed(key, generation, index, epoch, reply);
            });
}

void LockNotifier::onSubscribed(const QByteArray &key, quint32 generation, int index, quint32 epoch,
                                const RedisReply &reply)
{
    auto it = m_keys.find(key);
    if (it == m_keys.end() || !it->subscribed() || it->generation != generation || index >= int(it->state.size())
        || size_t(index) >= m_servers.size() || m_servers[size_t(index)].epoch != epoch)
        return;
    const bool ok = isConfirmation(reply, "subscribe", channelOf(key));
    it->state[index] = ok ? Sub::Subscribed : Sub::Failed;
    // The server answered, and not with a confirmation: an ACL, or a server without the command.
    if (!ok && (reply.ok() || reply.failure == RedisFailure::Auth))
        denied(index, QStringLiteral("SUBSCRIBE"), reply.errorString.isEmpty() ? QString::fromUtf8(reply.value.string)
                                                                               : reply.errorString);
    const std::vector<quint64> ids(it->ids.cbegin(), it->ids.cend());
    for (quint64 id : ids)
        checkReady(id); // the waits among them
}

void LockNotifier::denied(int index, const QString &what, const QString &why)
{
    Server &s = m_servers[size_t(index)];
    bool &flag = what == QStringLiteral("SUBSCRIBE") ? s.subscribeDenied : s.trackingDenied;
    if (flag)
        return;
    flag = true;
    qCWarning(lcManager).noquote()
            << QStringLiteral("%1: %2 refused (%3): %4 on this server")
                       .arg(s.main->endpoint().toString(), what, why,
                            what == QStringLiteral("SUBSCRIBE")
                                    ? QStringLiteral("waiting locks poll every retryDelay instead of being woken")
                                    : QStringLiteral("holders learn of lost keys at their next extension"));
}

void LockNotifier::checkReady(quint64 id)
{
    auto w = m_waits.find(id);
    if (w == m_waits.end() || w->second.readySent)
        return;
    if (m_enabled) {
        for (const QByteArray &key : std::as_const(w->second.keys)) {
            const auto c = m_keys.constFind(key);
            if (c == m_keys.constEnd())
                continue;
            for (Sub s : c->state) {
                if (s == Sub::Pending)
                    return;
            }
        }
    }
    w->second.readySent = true;
    // Through the event loop: never from inside addWait(), and the callback may end the wait.
    QMetaObject::invokeMethod(
            this,
            [this, id] {
                const auto it = m_waits.find(id);
                if (it != m_waits.end())
                    it->second.listener->waitReady(id);
            },
            Qt::QueuedConnection);
}

quint64 LockNotifier::addWait(const QList<QByteArray> &keys, Listener *listener)
{
    const quint64 id = ++m_nextId;
    const bool first = !watching();
    m_waits.emplace(id, Wait { keys, listener, false });
    addListener(id, keys, true);
    if (first && m_enabled) { // before the attempt that follows waitReady(): that one is tracked
        for (int i = 0; i < int(m_servers.size()); ++i)
            startTracking(i);
    }
    checkReady(id);
    return id;
}

void LockNotifier::removeWait(quint64 id)
{
    const auto w = m_waits.find(id);
    if (w == m_waits.end())
        return;
    removeListener(id, w->second.keys, true);
    m_waits.erase(w);
    scheduleIdleCheck();
}

quint64 LockNotifier::addWatch(const QList<QByteArray> &keys, Listener *listener)
{
    const quint64 id = ++m_nextId;
    const bool first = !watching();
    m_watches.emplace(id, Watch { keys, listener });
    addListener(id, keys, false);
    if (first && m_enabled) {
        for (int i = 0; i < int(m_servers.size()); ++i)
            startTracking(i);
    }
    return id;
}

void LockNotifier::removeWatch(quint64 id)
{
    const auto w = m_watches.find(id);
    if (w == m_watches.end())
        return;
    removeListener(id, w->second.keys, false);
    m_watches.erase(w);
    scheduleIdleCheck();
}

void LockNotifier::addListener(quint64 id, const QList<QByteArray> &keys, bool wait)
{
    for (const QByteArray &k : keys) {
        Key &entry = m_keys[k];
        entry.ids.push_back(id);
        if (!wait || entry.waits++ > 0)
            continue;
        // The first wait on this key: its channel is subscribed everywhere.
        ++m_channelCount;
        entry.resetState(m_servers.size());
        entry.generation = ++m_generations;
        for (int i = 0; i < int(m_servers.size()); ++i)
            subscribe(k, entry, i);
    }
}

void LockNotifier::removeListener(quint64 id, const QList<QByteArray> &keys, bool wait)
{
    for (const QByteArray &k : keys) {
        auto it = m_keys.find(k);
        if (it == m_keys.end())
            continue;
        auto &ids = it->ids;
        const auto one = std::find(ids.begin(), ids.end(), id); // one per occurrence of the key
        if (one != ids.end())
            ids.erase(one);
        if (wait && it->waits > 0 && --it->waits == 0) {
            // Nobody waits on it any more: unsubscribe where it was (or is being) subscribed.
            --m_channelCount;
            for (int i = 0; i < int(it->state.size()); ++i) {
                RedisConnection *c = m_servers[size_t(i)].subscriber;
                if (c && it->state[i] != Sub::Failed)
                    c->send({ QByteArrayLiteral("UNSUBSCRIBE"), channelOf(k) }, [](const RedisReply &) { });
            }
            it->state.clear();
            it->generation = ++m_generations; // a confirmation still due is stale
        }
        if (ids.empty())
            m_keys.erase(it);
    }
}

bool LockNotifier::covers(quint64 waitId, int index) const
{
    const auto w = m_waits.find(waitId);
    if (!m_enabled || w == m_waits.end() || index < 0 || size_t(index) >= m_servers.size())
        return false;
    const Server &s = m_servers[size_t(index)];
    if (!s.tracking || s.trackingDenied || s.subscribeDenied)
        return false;
    for (const QByteArray &key : std::as_const(w->second.keys)) {
        const auto c = m_keys.constFind(key);
        if (c == m_keys.constEnd() || index >= int(c->state.size()) || c->state[index] != Sub::Subscribed)
            return false;
    }
    return true;
}

void LockNotifier::startTracking(int index)
{
    Server &s = m_servers[size_t(index)];
    if (!m_enabled || s.trackingDenied || s.tracking || !s.main->isReady())
        return;
    RedisConnection *sub = subscriberFor(index);
    if (s.subscriberId < 0 || !sub->isReady())
        return; // again once CLIENT ID answered
    s.tracking = true;
    // Invalidations of the keys this connection read arrive on the subscriber connection
    // (NOLOOP: not for our own writes). Default mode, not BCAST: with BCAST the server does
    // invalidation work for every write of every client; here only for the keys we watch.
    sub->send({ QByteArrayLiteral("SUBSCRIBE"), QByteArray(InvalidateChannel) }, [](const RedisReply &) { });
    const qint64 redirect = s.subscriberId;
    RedisConnection *main = s.main;
    main->send({ QByteArrayLiteral("CLIENT"), QByteArrayLiteral("TRACKING"), QByteArrayLiteral("OFF") },
               [](const RedisReply &) { });
    main->send({ QByteArrayLiteral("CLIENT"), QByteArrayLiteral("TRACKING"), QByteArrayLiteral("ON"),
                 QByteArrayLiteral("REDIRECT"), QByteArray::number(redirect), QByteArrayLiteral("NOLOOP") },
               [this, index, main](const RedisReply &r) {
                   if (size_t(index) >= m_servers.size() || m_servers[size_t(index)].main != main)
                       return;
                   if (r.ok() && r.value.isStatus("OK"))
                       return;
                   m_servers[size_t(index)].tracking = false;
                   if (r.ok() || r.failure == RedisFailure::Auth) // refused, not a lost connection
                       denied(index, QStringLiteral("CLIENT TRACKING"),
                              r.errorString.isEmpty() ? QString::fromUtf8(r.value.string) : r.errorString);
               });
    // Changes before tracking was on were not reported: every watch looks once.
    notifyWatches(index, nullptr);
}

void LockNotifier::notifyWatches(int index, const QByteArray *key)
{
    std::vector<quint64> ids;
    if (key) {
        const auto it = m_keys.constFind(*key);
        if (it == m_keys.constEnd())
            return;
        ids.assign(it->ids.cbegin(), it->ids.cend());
    } else {
        for (const auto &w : m_watches)
            ids.push_back(w.first);
        for (const auto &w : m_waits)
            ids.push_back(w.first);
    }
    for (quint64 id : ids) // a listener may end its own or others' waits and watches
        keysChanged(id, index, key != nullptr);
}

void LockNotifier::keysChanged(quint64 id, int index, bool written)
{
    if (const auto w = m_watches.find(id); w != m_watches.end())
        w->second.listener->keysChanged(id, index, written);
    else if (const auto v = m_waits.find(id); v != m_waits.end())
        v->second.listener->keysChanged(id, index, written);
}

void LockNotifier::onMessage(int index, const RedisValue &message)
{
    const QByteArray &channel = message.elements.at(1).string;
    const RedisValue &payload = message.elements.at(2);
    if (channel == InvalidateChannel) {
        if (payload.type != RedisValue::Type::Array) { // nil: FLUSHALL / FLUSHDB
            notifyWatches(index, nullptr);
            return;
        }
        for (const RedisValue &key : payload.elements)
            notifyWatches(index, &key.string);
        return;
    }
    if (!channel.endsWith(m_channelSuffix))
        return;
    // The key, without a copy: the channel's bytes live as long as the message.
    const QByteArray key = QByteArray::fromRawData(channel.constData(), channel.size() - m_channelSuffix.size());
    const auto it = m_keys.constFind(key);
    if (it == m_keys.constEnd() || !it->subscribed())
        return;
    const std::vector<quint64> ids(it->ids.cbegin(), it->ids.cend());
    for (quint64 id : ids) {
        const auto w = m_waits.find(id);
        if (w != m_waits.end())
            w->second.listener->released(id, index, payload.string);
    }
}

void LockNotifier::onSubscriberLost(int index)
{
    Server &s = m_servers[size_t(index)];
    s.outage = true;
    s.tracking = false; // its redirect target is gone
    s.subscriberId = -1;
    s.idRequested = false;
    s.epoch = ++m_generations; // replies still due belong to the old connection
    for (auto it = m_keys.begin(); it != m_keys.end(); ++it) {
        if (it->subscribed() && index < int(it->state.size()))
            it->state[index] = Sub::Failed;
    }
    const std::vector<quint64> ids = [this] {
        std::vector<quint64> v;
        for (const auto &w : m_waits)
            v.push_back(w.first);
        return v;
    }();
    for (quint64 id : ids) // nothing is pending on this server any more
        checkReady(id);
}

void LockNotifier::onSubscriberReady(int index)
{
    Server &s = m_servers[size_t(index)];
    const bool missed = s.outage;
    s.outage = false;
    // A new connection (after an outage, or after the first attempts failed): its CLIENT ID
    // goes first (a subscribed connection takes no other command), then every channel that
    // is not subscribed here. The first connection's commands were queued in that order.
    if (!s.idRequested)
        requestClientId(index);
    for (auto it = m_keys.begin(); it != m_keys.end(); ++it) {
        if (it->subscribed() && index < int(it->state.size()) && it->state[index] == Sub::Failed)
            subscribe(it.key(), it.value(), index);
    }
    if (!missed)
        return;
    // A release published while the connection was down was missed: every wait looks again.
    std::vector<quint64> ids;
    for (const auto &w : m_waits)
        ids.push_back(w.first);
    for (quint64 id : ids) {
        const auto w = m_waits.find(id);
        if (w != m_waits.end())
            w->second.listener->released(id, index, QByteArray());
    }
}

void LockNotifier::scheduleIdleCheck()
{
    if (m_idleCheckQueued || watching())
        return;
    m_idleCheckQueued = true;
    QTimer::singleShot(IdleCloseMs, this, [this] {
        m_idleCheckQueued = false;
        closeIfIdle();
    });
}

void LockNotifier::closeIfIdle()
{
    if (!watching())
        closeSubscribers();
}

void LockNotifier::closeSubscribers()
{
    for (Server &s : m_servers) {
        if (!s.subscriber)
            continue;
        RedisConnection *c = s.subscriber;
        s.subscriber = nullptr;
        s.subscriberId = -1;
        s.idRequested = false;
        s.epoch = ++m_generations;
        if (s.tracking && s.main && s.main->isReady())
            s.main->send({ QByteArrayLiteral("CLIENT"), QByteArrayLiteral("TRACKING"), QByteArrayLiteral("OFF") },
                         [](const RedisReply &) { });
        s.tracking = false;
        c->disconnect(this);
        c->close(); // pending SUBSCRIBEs see Cancelled; their channels' generations are checked
        c->deleteLater();
    }
}

} // namespace QRedlock
