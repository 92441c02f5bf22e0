// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "inspect.h"

#include "exitcodes.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QVariantMap>

#include <QRedlock/LockInspection>

#include <algorithm>
#include <cstdio>

using QRedlock::LockInfo;

namespace QRedlockCli {

namespace {

void printLine(const QString &line)
{
    std::fputs(qPrintable(line + u'\n'), stdout);
}

// Tokens are shown shortened (enough to tell holders apart, not enough to release).
QString shorten(const QString &value)
{
    QString out;
    for (const QChar c : value.left(8))
        out += (c.unicode() >= 0x21 && c.unicode() <= 0x7e) ? c : u'?';
    return value.size() > 8 ? out + QStringLiteral("...") : out;
}

// Who holds it, for people: the identity in the token, or the shortened token of a client
// that carries none.
QString describeHolder(const QString &identity, const QString &token)
{
    return identity.isEmpty() ? QStringLiteral("token %1").arg(shorten(token))
                              : QStringLiteral("%1 (token %2)").arg(identity, shorten(token));
}

// The exit status when too few servers gave a usable answer to decide: 68 when those that
// were unreachable or timed out are too many for a quorum on their own; otherwise the
// refusals decided it: 77 for credentials or ACL, 76 for protocol or TLS failures
// (whichever more servers gave; 77 on a tie).
int failureExitCode(const QVariantList &servers, const QString &field, int quorum)
{
    int unreachable = 0;
    int auth = 0;
    int protocol = 0;
    for (const QVariant &v : servers) {
        const QString failure = v.toMap().value(field).toString();
        unreachable += failure == QLatin1String("unreachable") ? 1 : 0;
        auth += failure == QLatin1String("auth") ? 1 : 0;
        protocol += failure == QLatin1String("protocol") ? 1 : 0;
    }
    if (unreachable > int(servers.size()) - quorum || (auth == 0 && protocol == 0))
        return ExitNoQuorum;
    return auth >= protocol ? ExitNoPermission : ExitProtocol;
}

QString verdictName(LockInfo::State state)
{
    switch (state) {
    case LockInfo::State::Held: return QStringLiteral("held");
    case LockInfo::State::Free: return QStringLiteral("free");
    case LockInfo::State::Split: return QStringLiteral("split");
    case LockInfo::State::Unknown: break;
    }
    return QStringLiteral("unknown");
}

} // namespace

ServerSweep::ServerSweep(const Settings &settings, QObject *parent) : QObject(parent), m_settings(settings) { }

int ServerSweep::start()
{
    if (!configureManager(m_manager, m_settings))
        return ExitUsage;
    QRedlock::LockInspection *job = m_settings.subcommand == Subcommand::Release
            ? m_manager.forceRelease(m_settings.resource, m_settings.token)
            : m_manager.inspect(m_settings.resource);
    connect(job, &QRedlock::LockInspection::finished, this, [this, job] {
        const LockInfo info = job->info();
        Q_EMIT finished(m_settings.subcommand == Subcommand::Release ? reportRelease(info) : reportStatus(info));
    });
    return -1;
}

// ---- status ------------------------------------------------------------------------------

int ServerSweep::reportStatus(const LockInfo &info) const
{
    const int quorum = m_manager.quorum();
    const QVariantList servers = info.servers();
    const int total = int(servers.size());
    const QString key = m_settings.keyPrefix + m_settings.resource;
    const QString verdict = verdictName(info.state());
    QString detail;
    switch (info.state()) {
    case LockInfo::State::Held:
        detail = QStringLiteral("%1 of %2 servers hold token %3").arg(info.holderServers()).arg(total)
                         .arg(shorten(QString::fromLatin1(info.token())));
        if (!info.holder().isEmpty())
            detail += QStringLiteral(" of %1, %2 ms left").arg(info.holder()).arg(info.remainingTtl());
        break;
    case LockInfo::State::Unknown:
        detail = QStringLiteral("%1 of %2 servers answered").arg(info.answeredServers()).arg(total);
        break;
    case LockInfo::State::Split: {
        QStringList parts;
        QMap<QString, int> counts;
        for (const QVariant &v : servers) {
            const QString token = v.toMap().value(QStringLiteral("token")).toString();
            if (!token.isEmpty())
                ++counts[shorten(token)];
        }
        for (auto it = counts.cbegin(); it != counts.cend(); ++it)
            parts << QStringLiteral("%1 on %2").arg(it.key()).arg(it.value());
        detail = QStringLiteral("no token on a quorum: %1").arg(parts.join(QStringLiteral(", ")));
        break;
    }
    case LockInfo::State::Free:
        detail = QStringLiteral("no key on the %1 servers that answered").arg(info.answeredServers());
        break;
    }

    if (m_settings.json) {
        QJsonArray list;
        for (const QVariant &v : servers) {
            const QVariantMap m = v.toMap();
            const bool answered = m.value(QStringLiteral("answered")).toBool();
            const bool exists = m.value(QStringLiteral("exists")).toBool();
            const QString token = m.value(QStringLiteral("token")).toString();
            const QString error = m.value(QStringLiteral("error")).toString();
            QJsonObject o;
            o.insert(QStringLiteral("server"), m.value(QStringLiteral("url")).toString());
            o.insert(QStringLiteral("reachable"), answered);
            o.insert(QStringLiteral("exists"), answered ? QJsonValue(exists) : QJsonValue());
            o.insert(QStringLiteral("holder"), token.isEmpty() ? QJsonValue() : QJsonValue(m.value(QStringLiteral("holder")).toString()));
            o.insert(QStringLiteral("token"), token.isEmpty() ? QJsonValue() : QJsonValue(shorten(token)));
            const qint64 pttl = m.value(QStringLiteral("pttl")).toLongLong();
            o.insert(QStringLiteral("pttl"), exists && pttl >= -1 ? QJsonValue(pttl) : QJsonValue());
            const qint64 counter = m.value(QStringLiteral("fencingCounter")).toLongLong();
            o.insert(QStringLiteral("fencingCounter"), counter >= 0 ? QJsonValue(counter) : QJsonValue());
            o.insert(QStringLiteral("error"), error.isEmpty() ? QJsonValue() : QJsonValue(error));
            list.append(o);
        }
        const bool held = info.state() == LockInfo::State::Held;
        QJsonObject root;
        root.insert(QStringLiteral("resource"), m_settings.resource);
        root.insert(QStringLiteral("key"), key);
        root.insert(QStringLiteral("quorum"), quorum);
        root.insert(QStringLiteral("verdict"), verdict);
        root.insert(QStringLiteral("detail"), detail);
        root.insert(QStringLiteral("holder"), held ? QJsonValue(info.holder()) : QJsonValue());
        root.insert(QStringLiteral("token"), held ? QJsonValue(shorten(QString::fromLatin1(info.token()))) : QJsonValue());
        root.insert(QStringLiteral("ttl"), held && info.remainingTtl() >= 0 ? QJsonValue(info.remainingTtl()) : QJsonValue());
        root.insert(QStringLiteral("fencingCounter"), info.fencingCounter() >= 0 ? QJsonValue(info.fencingCounter()) : QJsonValue());
        root.insert(QStringLiteral("holderServers"), info.holderServers());
        root.insert(QStringLiteral("error"), info.errorString().isEmpty() ? QJsonValue() : QJsonValue(info.errorString()));
        root.insert(QStringLiteral("servers"), list);
        std::fputs(QJsonDocument(root).toJson(QJsonDocument::Indented).constData(), stdout);
    } else {
        printLine(QStringLiteral("lock '%1' (key '%2') on %3 servers, quorum %4")
                          .arg(m_settings.resource, key).arg(total).arg(quorum));
        for (const QVariant &v : servers) {
            const QVariantMap m = v.toMap();
            const QString error = m.value(QStringLiteral("error")).toString();
            const qint64 pttl = m.value(QStringLiteral("pttl")).toLongLong();
            const qint64 counter = m.value(QStringLiteral("fencingCounter")).toLongLong();
            QString line = QStringLiteral("  %1  ").arg(m.value(QStringLiteral("url")).toString());
            if (!m.value(QStringLiteral("answered")).toBool())
                line += QStringLiteral("unreachable: %1").arg(error);
            else if (!error.isEmpty())
                line += QStringLiteral("error: %1").arg(error);
            else if (!m.value(QStringLiteral("exists")).toBool())
                line += QStringLiteral("free");
            else
                line += QStringLiteral("held by %1, pttl %2")
                                .arg(describeHolder(m.value(QStringLiteral("holder")).toString(),
                                                    m.value(QStringLiteral("token")).toString()),
                                     pttl >= 0 ? QStringLiteral("%1 ms").arg(pttl) : QStringLiteral("none (no expiry!)"));
            if (counter >= 0)
                line += QStringLiteral(", fencing counter %1").arg(counter);
            printLine(line);
        }
        printLine(QStringLiteral("verdict: %1 (%2)").arg(verdict, detail));
    }
    std::fflush(stdout);
    return info.state() == LockInfo::State::Unknown ? failureExitCode(servers, QStringLiteral("failure"), quorum)
                                                     : ExitSuccess;
}

// ---- release -----------------------------------------------------------------------------

int ServerSweep::reportRelease(const LockInfo &info) const
{
    int removed = 0;
    int foreign = 0; // held under another token
    int failed = 0;  // no usable answer
    QStringList lines;
    const QVariantList servers = info.servers();
    for (const QVariant &v : servers) {
        const QVariantMap m = v.toMap();
        QString outcome;
        const QString before = m.value(QStringLiteral("removedToken")).toString();
        if (m.value(QStringLiteral("removed")).toBool()) {
            ++removed;
            outcome = QStringLiteral("removed");
        } else if (m.contains(QStringLiteral("releaseError"))) {
            ++failed;
            outcome = QStringLiteral("%1: %2")
                              .arg(m.value(QStringLiteral("releaseErrorReply")).toBool() ? QStringLiteral("error")
                                                                                        : QStringLiteral("unreachable"),
                                   m.value(QStringLiteral("releaseError")).toString());
        } else if (!before.isEmpty()) {
            ++foreign;
            outcome = QStringLiteral("kept: held by another token (%1)").arg(shorten(before));
        } else if (m.value(QStringLiteral("answered")).toBool() && m.value(QStringLiteral("exists")).toBool()) {
            ++foreign;
            outcome = QStringLiteral("kept: %1").arg(m.value(QStringLiteral("error")).toString());
        } else {
            outcome = QStringLiteral("absent");
        }
        lines << QStringLiteral("  %1  %2").arg(m.value(QStringLiteral("url")).toString(), outcome);
    }

    const int total = int(servers.size());
    int code = ExitSuccess;
    QString summary;
    if (removed > 0) {
        summary = QStringLiteral("released '%1' on %2 of %3 servers").arg(m_settings.resource).arg(removed).arg(total);
    } else if (foreign > 0) {
        code = ExitDataError;
        summary = QStringLiteral("nothing released: '%1' is held under another token").arg(m_settings.resource);
    } else if (failed > 0) {
        code = failureExitCode(servers, QStringLiteral("releaseFailure"), m_manager.quorum());
        summary = QStringLiteral("nothing released: '%1' is absent on the servers that answered, but %2 of %3 did not")
                          .arg(m_settings.resource).arg(failed).arg(total);
    } else {
        summary = QStringLiteral("'%1' was already absent on all %2 servers: nothing to release")
                          .arg(m_settings.resource).arg(total);
    }
    if (!m_settings.quiet) {
        for (const QString &line : std::as_const(lines))
            printLine(line);
        printLine(summary);
        std::fflush(stdout);
    }
    return code;
}

} // namespace QRedlockCli
