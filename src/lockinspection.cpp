// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "lockinspection.h"

#include "lockinfo_p.h"
#include "lockinspection_p.h"

#include <QtCore/QHash>
#include <QtCore/QPointer>
#include <QtCore/QVariantMap>

#include <climits>

namespace QRedlock {

namespace {

// The reply of the inspection script: {kind, value, pttl, counter}; kind 0 no key, 1 a
// string (a lock value), 2 another type (value = its name).
struct KeyView
{
    int kind = 0;
    QByteArray value;
    qint64 pttl = -2;
    qint64 counter = -1;
};

KeyView viewOf(const RedisValue &v)
{
    KeyView k;
    if (v.type != RedisValue::Type::Array || v.elements.size() != 4)
        return k;
    k.kind = int(v.elements.at(0).integer);
    k.value = v.elements.at(1).string;
    k.pttl = v.elements.at(2).integer;
    bool ok = false;
    const qint64 c = v.elements.at(3).string.toLongLong(&ok);
    k.counter = ok ? c : -1;
    return k;
}

QString failureKind(const QuorumRound::Server &s)
{
    switch (s.failure) {
    case RedisFailure::Auth: return QStringLiteral("auth");
    case RedisFailure::Protocol:
    case RedisFailure::Tls: return QStringLiteral("protocol");
    case RedisFailure::None: // an error reply: NOPERM/NOAUTH are auth, LOADING and the like transient
        return s.detail.startsWith(u"NOPERM") || s.detail.startsWith(u"NOAUTH") || s.detail.startsWith(u"WRONGPASS")
                ? QStringLiteral("auth")
                : QStringLiteral("unreachable");
    default: return QStringLiteral("unreachable");
    }
}

} // namespace

void LockInspectionPrivate::complete(const QString &resource, const QuorumRound &inspected,
                                     const std::vector<QuorumRound::Server> *released, const QStringList &urls)
{
    LockInfo result;
    LockInfoData &d = *result.d;
    d.resource = resource;
    const int n = inspected.size();
    QHash<QByteArray, int> holders;
    QStringList problems;
    bool anyKey = false;
    std::vector<KeyView> views(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        const QuorumRound::Server &s = inspected.servers[size_t(i)];
        const bool answered = s.result == QuorumRound::Result::Granted;
        QVariantMap m;
        m.insert(QStringLiteral("url"), urls.value(i));
        m.insert(QStringLiteral("answered"), answered);
        if (answered) {
            const KeyView k = viewOf(s.value);
            views[size_t(i)] = k;
            ++d.answeredServers;
            anyKey = anyKey || k.kind != 0;
            if (k.kind == 1)
                ++holders[k.value];
            d.fencingCounter = std::max(d.fencingCounter, k.counter);
            m.insert(QStringLiteral("exists"), k.kind != 0);
            m.insert(QStringLiteral("token"), k.kind == 1 ? QString::fromLatin1(k.value) : QString());
            m.insert(QStringLiteral("holder"), k.kind == 1 ? LockManagerPrivate::holderOf(k.value) : QString());
            m.insert(QStringLiteral("pttl"), k.pttl);
            m.insert(QStringLiteral("fencingCounter"), k.counter);
            m.insert(QStringLiteral("error"), k.kind == 2 ? QStringLiteral("not a lock: a %1 value").arg(QString::fromLatin1(k.value)) : QString());
            m.insert(QStringLiteral("failure"), QString());
        } else {
            m.insert(QStringLiteral("exists"), false);
            m.insert(QStringLiteral("token"), QString());
            m.insert(QStringLiteral("holder"), QString());
            m.insert(QStringLiteral("pttl"), qint64(-2));
            m.insert(QStringLiteral("fencingCounter"), qint64(-1));
            m.insert(QStringLiteral("error"), s.detail);
            m.insert(QStringLiteral("failure"), failureKind(s));
            problems << QStringLiteral("%1: %2").arg(urls.value(i), s.detail);
        }
        if (released) {
            const QuorumRound::Server &r = released->at(size_t(i));
            m.insert(QStringLiteral("removed"), r.result == QuorumRound::Result::Granted);
            m.insert(QStringLiteral("removedToken"), QString::fromLatin1(r.value.elements.value(1).string));
            if (r.result != QuorumRound::Result::Granted && r.result != QuorumRound::Result::Refused) {
                m.insert(QStringLiteral("releaseError"), r.detail);
                m.insert(QStringLiteral("releaseFailure"), failureKind(r));
                m.insert(QStringLiteral("releaseErrorReply"), r.failure == RedisFailure::None); // the server said no
            }
        }
        d.servers.append(m);
    }

    QByteArray top;
    for (auto it = holders.cbegin(); it != holders.cend(); ++it) {
        if (it.value() > d.holderServers || (it.value() == d.holderServers && it.key() < top)) {
            top = it.key();
            d.holderServers = it.value();
        }
    }
    const int silent = n - d.answeredServers;
    const int quorum = inspected.quorum;
    if (n > 0 && d.holderServers >= quorum) {
        d.state = LockInfo::State::Held;
        d.token = top;
        d.holder = LockManagerPrivate::holderOf(top);
        qint64 ttl = LLONG_MAX;
        for (const KeyView &k : views) {
            if (k.kind == 1 && k.value == top && k.pttl >= 0)
                ttl = std::min(ttl, k.pttl);
        }
        d.remainingTtl = ttl == LLONG_MAX ? -1 : int(std::min<qint64>(ttl, INT_MAX));
    } else if (n == 0 || d.holderServers + silent >= quorum) {
        // The servers that did not answer could still make up a quorum for someone.
        d.state = LockInfo::State::Unknown;
        d.errorString = QStringLiteral("%1 of %2 servers answered (quorum %3): %4")
                                .arg(d.answeredServers).arg(n).arg(quorum)
                                .arg(problems.join(QStringLiteral("; ")));
    } else {
        d.state = anyKey ? LockInfo::State::Split : LockInfo::State::Free;
    }
    finish(result);
}

void LockInspectionPrivate::failLater(const QString &resource, const QString &message)
{
    LockInfo result;
    result.d->resource = resource;
    result.d->errorString = message;
    QPointer<LockInspection> self(q);
    QMetaObject::invokeMethod(
            q,
            [self, result] {
                if (self)
                    self->d->finish(result);
            },
            Qt::QueuedConnection);
}

void LockInspectionPrivate::finish(const LockInfo &result)
{
    if (finished)
        return;
    finished = true;
    info = result;
    Q_EMIT q->finished();
    if (autoDelete)
        q->deleteLater();
}

// ---- LockInspection ----------------------------------------------------------------------

LockInspection::LockInspection(QObject *parent) : QObject(parent), d(new LockInspectionPrivate(this)) { }
LockInspection::~LockInspection() = default;

LockInfo LockInspection::info() const { return d->info; }
bool LockInspection::isFinished() const { return d->finished; }
bool LockInspection::autoDelete() const { return d->autoDelete; }

void LockInspection::setAutoDelete(bool on)
{
    if (d->autoDelete == on)
        return;
    d->autoDelete = on;
    Q_EMIT autoDeleteChanged();
}

} // namespace QRedlock
