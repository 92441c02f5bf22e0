// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "lockmanager.h"

#include "jobrecord_p.h"
#include "lockinspection_p.h"
#include "lockmanager_p.h"
#include "lockscripts_p.h"
#include "replyclassify_p.h"
#include "logging_p.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QHash>
#include <QtCore/QMetaEnum>
#include <QtCore/QPointer>

#include <climits>
#include <cmath>
#include <optional>

namespace QRedlock {

using namespace ReplyClassify;

namespace {

QPointer<LockManager> &defaultInstance()
{
    static QPointer<LockManager> instance;
    return instance;
}

} // namespace

LockManagerPrivate::LockManagerPrivate(LockManager *q)
    : q(q),
      notifier(q ? new LockNotifier(QByteArray(ReleaseChannelSuffix)) : nullptr),
      acquireMultiScript(LockScripts::acquireMulti()),
      acquireFencedScript(LockScripts::acquireFenced()),
      raiseFenceScript(LockScripts::raiseFence()),
      extendScript(LockScripts::extend()),
      releaseScript(LockScripts::release(QueueSuffix, QueueExpirySuffix, ReleaseChannelSuffix)),
      inspectScript(LockScripts::inspect()),
      forceReleaseScript(LockScripts::forceRelease()),
      acquireQueuedScript(LockScripts::acquireQueued()),
      checkScript(LockScripts::check()),
      deleteOwnScript(LockScripts::deleteOwn())
{
}

bool LockManagerPrivate::setError(const QString &message)
{
    if (!message.isEmpty())
        qCWarning(lcManager).noquote() << message;
    if (errorString != message) {
        errorString = message;
        Q_EMIT q->errorStringChanged();
    }
    return message.isEmpty();
}

bool LockManagerPrivate::validateAndBuild(const QStringList &list, QList<RedisEndpoint> *out)
{
    QStringList trimmed;
    for (const QString &u : list) {
        // Allow one comma-separated string too (as in QREDLOCK_SERVERS).
        const QStringList parts = u.split(u',', Qt::SkipEmptyParts);
        for (const QString &p : parts) {
            if (!p.trimmed().isEmpty())
                trimmed << p.trimmed();
        }
    }
    if (trimmed.isEmpty())
        return setError(QStringLiteral("no Redis servers given (at least one URL is needed, three or more for fault tolerance)"));
    QHash<QString, QString> seen;
    for (const QString &u : std::as_const(trimmed)) {
        const RedisEndpoint e = RedisEndpoint::fromString(u);
        if (!e.isValid())
            return setError(QStringLiteral("invalid server URL: %1").arg(e.errorString()));
        const QString id = e.serverIdentity();
        const auto it = seen.constFind(id);
        if (it != seen.constEnd())
            return setError(QStringLiteral("the same server is listed twice (%1 and %2): a duplicate would fake a quorum")
                                    .arg(it.value(), e.toString()));
        seen.insert(id, e.toString());
        out->append(e);
    }
    if (out->size() % 2 == 0)
        qCWarning(lcManager).noquote()
                << QStringLiteral("%1 servers tolerate no more failures than %2: use an odd number")
                           .arg(out->size()).arg(out->size() - 1);
    return true;
}

RedisConnection::Options LockManagerPrivate::connectionOptions() const
{
    RedisConnection::Options o;
    o.requestTimeoutMs = serverTimeout;
    o.connectTimeoutMs = std::max(1000, serverTimeout * 4);
    return o;
}

void LockManagerPrivate::rebuildConnections()
{
    for (RedisConnection *c : connections) {
        c->close(); // pending rounds see Cancelled
        c->deleteLater();
    }
    connections.clear();
    identityConflict.clear();
    for (const RedisEndpoint &e : std::as_const(endpoints)) {
        auto *c = new RedisConnection(e, q);
        c->setOptions(connectionOptions());
        for (const RedisScript *s : { &acquireMultiScript, &acquireFencedScript, &raiseFenceScript,
                                      &extendScript, &releaseScript, &inspectScript, &forceReleaseScript,
                                      &acquireQueuedScript, &checkScript, &writeRecordScript() })
            c->addStartupScript(*s);
        QObject::connect(c, &RedisConnection::stateChanged, q, &LockManager::serverStatusChanged);
        QObject::connect(c, &RedisConnection::ready, q, [this] { checkServerIdentities(); });
        c->open();
        connections.push_back(c);
    }
    notifier->setServers(connections, connectionOptions());
}

void LockManagerPrivate::checkServerIdentities()
{
    // Text checks of the URLs cannot see that 127.0.0.1:P, 0.0.0.0:P/1 and the host's name
    // reach one process; its run_id can. Such a set is refused as soon as both have answered.
    QString conflict;
    for (size_t i = 0; i < connections.size() && conflict.isEmpty(); ++i) {
        const QByteArray id = connections[i]->serverId();
        if (id.isEmpty())
            continue;
        for (size_t j = i + 1; j < connections.size(); ++j) {
            if (connections[j]->serverId() == id) {
                conflict = QStringLiteral("%1 and %2 are the same Redis server (run_id %3): listing it twice "
                                          "would fake a quorum; give each independent server once")
                                   .arg(connections[i]->endpoint().toString(), connections[j]->endpoint().toString(),
                                        QString::fromLatin1(id));
                break;
            }
        }
    }
    if (conflict == identityConflict)
        return;
    identityConflict = conflict;
    setError(conflict);
}

QList<QByteArray> LockManagerPrivate::keysFor(const QStringList &resources) const
{
    QList<QByteArray> keys;
    keys.reserve(resources.size());
    for (const QString &r : resources)
        keys.append((keyPrefix + r).toUtf8());
    return keys;
}

QString LockManagerPrivate::occurrenceResource(const QString &resource, qint64 occurrenceMs)
{
    return resource + QStringLiteral(":at:") + QString::number(occurrenceMs);
}

QByteArray LockManagerPrivate::recordKeyFor(const QString &resource) const
{
    return (keyPrefix + resource + QStringLiteral(":record")).toUtf8();
}

void LockManagerPrivate::run(const std::shared_ptr<QuorumRound> &round, const QList<QByteArray> &argv)
{
    QuorumRound::start(round, connections, argv, serverTimeout);
}

void LockManagerPrivate::runScript(const std::shared_ptr<QuorumRound> &round, const RedisScript &script,
                                   const QList<QByteArray> &keys, const QList<QByteArray> &args)
{
    QuorumRound::startScript(round, connections, script, keys, args, serverTimeout);
}


static QList<QByteArray> withCounters(const QList<QByteArray> &keys)
{
    QList<QByteArray> all = keys;
    for (const QByteArray &k : keys)
        all.append(k + QByteArrayLiteral(":fencing"));
    return all;
}

std::shared_ptr<QuorumRound> LockManagerPrivate::acquire(const QList<QByteArray> &keys, const QByteArray &token,
                                                         int ttlMs, bool fencing)
{
    const int n = int(connections.size());
    const QByteArray ttl = QByteArray::number(ttlMs);
    if (fencing) {
        auto round = std::make_shared<QuorumRound>(n, quorum(), QuorumRound::Mode::Quorum, classifyFenced);
        runScript(round, acquireFencedScript, withCounters(keys), { token, ttl });
        return round;
    }
    if (keys.size() == 1) {
        auto round = std::make_shared<QuorumRound>(n, quorum(), QuorumRound::Mode::Quorum, classifySet);
        run(round, { QByteArrayLiteral("SET"), keys.first(), token, QByteArrayLiteral("NX"), QByteArrayLiteral("PX"), ttl });
        return round;
    }
    auto round = std::make_shared<QuorumRound>(n, quorum(), QuorumRound::Mode::Quorum, classifyFlag);
    runScript(round, acquireMultiScript, keys, { token, ttl });
    return round;
}

std::shared_ptr<QuorumRound> LockManagerPrivate::raiseFence(const QList<QByteArray> &keys, const QByteArray &token,
                                                            qint64 value)
{
    auto round = std::make_shared<QuorumRound>(int(connections.size()), quorum(), QuorumRound::Mode::Quorum,
                                               classifyFlag);
    runScript(round, raiseFenceScript, withCounters(keys), { token, QByteArray::number(value) });
    return round;
}

std::shared_ptr<QuorumRound> LockManagerPrivate::extend(const QList<QByteArray> &keys, const QByteArray &token,
                                                        int ttlMs, qint64 fencingToken)
{
    auto round = std::make_shared<QuorumRound>(int(connections.size()), quorum(), QuorumRound::Mode::Quorum,
                                               classifyExtend);
    if (fencingToken > 0)
        runScript(round, extendScript, withCounters(keys),
                  { token, QByteArray::number(ttlMs), QByteArray::number(fencingToken) });
    else
        runScript(round, extendScript, keys, { token, QByteArray::number(ttlMs) });
    return round;
}

std::shared_ptr<QuorumRound> LockManagerPrivate::release(const QList<QByteArray> &keys, const QByteArray &token,
                                                         const QByteArray &leavingWaiter)
{
    auto round = std::make_shared<QuorumRound>(int(connections.size()), quorum(), QuorumRound::Mode::All,
                                               classifyRelease);
    runScript(round, releaseScript, keys, releaseArgs(token, leavingWaiter));
    return round;
}

void LockManagerPrivate::releaseOn(const QList<QByteArray> &keys, const QByteArray &token,
                                   const std::vector<bool> &send)
{
    std::vector<RedisConnection *> some;
    for (size_t i = 0; i < connections.size(); ++i) {
        if (i >= send.size() || send[i])
            some.push_back(connections[i]);
    }
    if (some.empty())
        return;
    auto round = std::make_shared<QuorumRound>(int(some.size()), int(some.size()), QuorumRound::Mode::All,
                                               classifyRelease);
    QuorumRound::startScript(round, some, deleteOwnScript, keys, { token }, serverTimeout);
}

std::shared_ptr<QuorumRound> LockManagerPrivate::acquireQueued(const QList<QByteArray> &keys, const QByteArray &token,
                                                               int ttlMs, bool fencing, const QByteArray &waiterId,
                                                               qint64 arrivalMs)
{
    auto round = std::make_shared<QuorumRound>(int(connections.size()), quorum(), QuorumRound::Mode::Quorum,
                                               classifyQueued);
    QList<QByteArray> all = withQueues(keys);
    if (fencing)
        all << withCounters(keys).mid(keys.size());
    runScript(round, acquireQueuedScript, all,
              { token, QByteArray::number(ttlMs), waiterId, QByteArray::number(arrivalMs),
                QByteArray::number(waiterEntryTtl()), fencing ? QByteArrayLiteral("1") : QByteArrayLiteral("0"),
                QByteArray::number(reservationMs()) });
    return round;
}

std::shared_ptr<QuorumRound> LockManagerPrivate::check(const QList<QByteArray> &keys, const QByteArray &token)
{
    auto round = std::make_shared<QuorumRound>(int(connections.size()), quorum(), QuorumRound::Mode::Quorum,
                                               classifyFlag);
    runScript(round, checkScript, keys, { token });
    return round;
}

std::shared_ptr<QuorumRound> LockManagerPrivate::probe(const QByteArray &key)
{
    auto round = std::make_shared<QuorumRound>(int(connections.size()), quorum(), QuorumRound::Mode::Quorum,
                                               classifyProbe);
    run(round, { QByteArrayLiteral("PTTL"), key });
    return round;
}

std::shared_ptr<QuorumRound> LockManagerPrivate::readKey(const QByteArray &key)
{
    auto round = std::make_shared<QuorumRound>(int(connections.size()), quorum(), QuorumRound::Mode::All,
                                               classifyValue);
    run(round, { QByteArrayLiteral("GET"), key });
    return round;
}

QList<QByteArray> LockManagerPrivate::releaseArgs(const QByteArray &token, const QByteArray &leavingWaiter) const
{
    QList<QByteArray> args { token, QByteArray::number(reservationMs()) };
    if (!leavingWaiter.isEmpty())
        args.append(leavingWaiter);
    return args;
}

QList<QByteArray> LockManagerPrivate::withQueues(const QList<QByteArray> &keys)
{
    QList<QByteArray> all = keys;
    for (const QByteArray &k : keys)
        all.append(k + QueueSuffix);
    for (const QByteArray &k : keys)
        all.append(k + QueueExpirySuffix);
    return all;
}

QByteArray LockManagerPrivate::releaseChannel(const QByteArray &key)
{
    return key + ReleaseChannelSuffix;
}

void LockManagerPrivate::startInspection(LockInspection *job, const QString &resource)
{
    LockInspectionPrivate *jd = LockInspectionPrivate::get(job);
    if (resource.isEmpty()) {
        jd->failLater(resource, QStringLiteral("empty resource name"));
        return;
    }
    if (connections.empty()) {
        jd->failLater(resource, QStringLiteral("the lock manager has no servers%1")
                                        .arg(errorString.isEmpty() ? QString() : u": " + errorString));
        return;
    }
    auto round = std::make_shared<QuorumRound>(int(connections.size()), quorum(), QuorumRound::Mode::All,
                                               classifyInspect);
    QPointer<LockInspection> target(job);
    const QStringList names = printableUrls();
    round->onDecided = [target, resource, names](QuorumRound &r) {
        if (target)
            LockInspectionPrivate::get(target)->complete(resource, r, nullptr, names);
    };
    runScript(round, inspectScript, withCounters(keysFor({ resource })), {});
}

void LockManagerPrivate::startForcedRelease(LockInspection *job, const QString &resource, const QByteArray &token)
{
    if (resource.isEmpty() || connections.empty()) {
        startInspection(job, resource); // fails with the reason
        return;
    }
    const QList<QByteArray> keys = keysFor({ resource });
    auto release = std::make_shared<QuorumRound>(int(connections.size()), quorum(), QuorumRound::Mode::All,
                                                 classifyForceRelease);
    QPointer<LockInspection> target(job);
    const QStringList names = printableUrls();
    release->onDecided = [this, target, resource, token, names](QuorumRound &r) {
        for (int i = 0; i < r.size(); ++i) {
            const QuorumRound::Server &s = r.servers[size_t(i)];
            if (token.isEmpty() && s.result == Result::Granted)
                qCWarning(lcManager).noquote() << QStringLiteral("force-released '%1' on %2: removed the key of %3")
                                                          .arg(resource, names.value(i),
                                                               describeHolder(s.value.elements.value(1).string));
        }
        if (!target)
            return;
        // The state afterwards, in a second round; the job keeps what each server removed.
        auto inspect = std::make_shared<QuorumRound>(r.size(), r.quorum, QuorumRound::Mode::All, classifyInspect);
        const std::vector<QuorumRound::Server> removed = r.servers;
        inspect->onDecided = [target, resource, names, removed](QuorumRound &i) {
            if (target)
                LockInspectionPrivate::get(target)->complete(resource, i, &removed, names);
        };
        runScript(inspect, inspectScript, withCounters(keysFor({ resource })), {});
    };
    runScript(release, forceReleaseScript, keys, { token, QByteArray(ReleaseChannelSuffix) });
}

QStringList LockManagerPrivate::printableUrls() const
{
    QStringList names;
    for (const RedisEndpoint &e : endpoints)
        names << e.toString();
    return names;
}

// ---------------------------------------------------------------------------------------

LockManager::LockManager(QObject *parent) : QObject(parent), d(new LockManagerPrivate(this)) { }

LockManager::~LockManager()
{
    // Held locks release first, while the connections exist: their commands leave as the
    // connections close (a C++ application that destroys the manager before its locks left
    // the keys held for a whole TTL).
    // A lock's slots may destroy other locks meanwhile: each is called only while it lives.
    std::vector<std::pair<QPointer<QObject>, LockManagerPrivate::Client *>> clients;
    clients.reserve(d->clients.size());
    for (LockManagerPrivate::Client *c : d->clients)
        clients.emplace_back(c->clientObject(), c);
    d->clients.clear();
    for (const auto &c : clients) {
        if (c.first)
            c.second->managerClosing();
    }
    // Connections go without callbacks.
    for (RedisConnection *c : d->connections)
        delete c;
    d->connections.clear();
    // The locks fail their pending work once the manager is gone, as if each had watched
    // destroyed(): manager() no longer returns this one then.
    if (!clients.empty()) {
        connect(this, &QObject::destroyed, [clients = std::move(clients)] {
            for (const auto &c : clients) {
                if (c.first)
                    c.second->managerGone();
            }
        });
    }
}

QStringList LockManager::servers() const { return d->urls; }
int LockManager::serverCount() const { return int(d->connections.size()); }
int LockManager::quorum() const { return d->connections.empty() ? 0 : d->quorum(); }

bool LockManager::setServers(const QStringList &urls)
{
    QList<RedisEndpoint> endpoints;
    if (!d->validateAndBuild(urls, &endpoints))
        return false;
    d->setError(QString());
    QStringList printable;
    for (const RedisEndpoint &e : std::as_const(endpoints))
        printable << e.toString();
    const bool same = endpoints == d->endpoints;
    if (same)
        return true;
    d->endpoints = endpoints;
    d->urls = urls;
    d->rebuildConnections();
    qCDebug(lcManager).noquote() << "servers:" << printable.join(QStringLiteral(", "));
    Q_EMIT serversChanged();
    Q_EMIT serverStatusChanged();
    return true;
}

double LockManager::driftFactor() const { return d->driftFactor; }
bool LockManager::setDriftFactor(double factor)
{
    if (!(factor >= 0.0 && factor < 0.5))
        return d->setError(QStringLiteral("drift factor %1 is out of range: expected 0 <= factor < 0.5").arg(factor));
    if (d->driftFactor != factor) {
        d->driftFactor = factor;
        Q_EMIT driftFactorChanged();
    }
    return true;
}

int LockManager::serverTimeout() const { return d->serverTimeout; }
bool LockManager::setServerTimeout(int ms)
{
    if (ms <= 0)
        return d->setError(QStringLiteral("server timeout must be positive, got %1 ms").arg(ms));
    if (d->serverTimeout != ms) {
        d->serverTimeout = ms;
        for (RedisConnection *c : d->connections)
            c->setOptions(d->connectionOptions());
        d->notifier->setOptions(d->connectionOptions());
        Q_EMIT serverTimeoutChanged();
    }
    return true;
}

int LockManager::retryCount() const { return d->retryCount; }
bool LockManager::setRetryCount(int count)
{
    if (count < -1)
        return d->setError(QStringLiteral("retry count must be >= 0 (or -1 for no limit), got %1").arg(count));
    if (d->retryCount != count) {
        d->retryCount = count;
        Q_EMIT retryCountChanged();
    }
    return true;
}

int LockManager::retryDelay() const { return d->retryDelay; }
bool LockManager::setRetryDelay(int ms)
{
    if (ms < 0)
        return d->setError(QStringLiteral("retry delay must be >= 0, got %1 ms").arg(ms));
    if (d->retryDelay != ms) {
        d->retryDelay = ms;
        Q_EMIT retryDelayChanged();
    }
    return true;
}

int LockManager::retryJitter() const { return d->retryJitter; }
bool LockManager::setRetryJitter(int ms)
{
    if (ms < 0)
        return d->setError(QStringLiteral("retry jitter must be >= 0, got %1 ms").arg(ms));
    if (d->retryJitter != ms) {
        d->retryJitter = ms;
        Q_EMIT retryJitterChanged();
    }
    return true;
}

QString LockManager::keyPrefix() const { return d->keyPrefix; }
void LockManager::setKeyPrefix(const QString &prefix)
{
    if (d->keyPrefix == prefix)
        return;
    d->keyPrefix = prefix;
    Q_EMIT keyPrefixChanged();
}

QString LockManager::errorString() const { return d->errorString; }

bool LockManager::notifications() const { return d->notifications; }
void LockManager::setNotifications(bool on)
{
    if (d->notifications == on)
        return;
    d->notifications = on;
    d->notifier->setEnabled(on);
    Q_EMIT notificationsChanged();
}

QString LockManager::holderIdentity() const { return d->effectiveHolderIdentity(); }
void LockManager::setHolderIdentity(const QString &identity)
{
    const QString before = d->effectiveHolderIdentity();
    d->holderIdentity = identity;
    d->holderIdentitySet = !identity.isEmpty();
    if (d->effectiveHolderIdentity() != before)
        Q_EMIT holderIdentityChanged();
}

LockInspection *LockManager::inspect(const QString &resource)
{
    auto *job = new LockInspection(this);
    d->startInspection(job, resource);
    return job;
}

LockInspection *LockManager::forceRelease(const QString &resource, const QByteArray &token)
{
    auto *job = new LockInspection(this);
    d->startForcedRelease(job, resource, token);
    return job;
}

int LockManager::minimumTtl() const { return d->minimumTtl(); }

int LockManager::renewalMargin(int ttlMs)
{
    // Renewals start at a third of the TTL; when none succeeded by two thirds, the last third
    // is for stopping the work (and for the retries that might still save it).
    return std::max(0, ttlMs / 3);
}

QVariantList LockManager::serverStatus() const
{
    QVariantList list;
    for (const RedisConnection *c : d->connections) {
        QVariantMap m;
        m.insert(QStringLiteral("url"), c->endpoint().toString());
        m.insert(QStringLiteral("connected"), c->isReady());
        m.insert(QStringLiteral("state"), QString::fromLatin1(QMetaEnum::fromType<RedisConnection::State>().valueToKey(int(c->state()))));
        m.insert(QStringLiteral("lastError"), c->lastError());
        list.append(m);
    }
    return list;
}

LockManager *LockManager::defaultManager()
{
    QPointer<LockManager> &instance = defaultInstance();
    if (!instance) {
        instance = new LockManager(QCoreApplication::instance());
        const QString env = qEnvironmentVariable("QREDLOCK_SERVERS");
        if (env.trimmed().isEmpty())
            instance->d->setError(QStringLiteral("QREDLOCK_SERVERS is not set: no Redis servers for the default lock manager"));
        else if (!instance->setServers(env.split(u',', Qt::SkipEmptyParts)))
            qCWarning(lcManager).noquote() << "QREDLOCK_SERVERS:" << instance->errorString();
    }
    return instance;
}

// ---- std::chrono setters -----------------------------------------------------------------

namespace {
// The milliseconds as an int, or nothing (with the error set, which also warns) when they do not fit.
std::optional<int> managerMsFromChrono(LockManagerPrivate *d, std::chrono::milliseconds value, const char *setter)
{
    if (value.count() >= INT_MIN && value.count() <= INT_MAX)
        return int(value.count());
    const QString message = QStringLiteral("%1(%2 ms) refused: out of the int range of milliseconds")
                                    .arg(QString::fromLatin1(setter))
                                    .arg(qint64(value.count()));
    d->setError(message); // also the warning
    return std::nullopt;
}
} // namespace

bool LockManager::setServerTimeout(std::chrono::milliseconds timeout)
{
    const std::optional<int> ms = managerMsFromChrono(d.get(), timeout, "LockManager::setServerTimeout");
    return ms && setServerTimeout(*ms);
}

bool LockManager::setRetryDelay(std::chrono::milliseconds delay)
{
    const std::optional<int> ms = managerMsFromChrono(d.get(), delay, "LockManager::setRetryDelay");
    return ms && setRetryDelay(*ms);
}

bool LockManager::setRetryJitter(std::chrono::milliseconds jitter)
{
    const std::optional<int> ms = managerMsFromChrono(d.get(), jitter, "LockManager::setRetryJitter");
    return ms && setRetryJitter(*ms);
}

} // namespace QRedlock
