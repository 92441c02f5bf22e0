#include "inspect.h"

#include "exitcodes.h"

#include <QtCore/QHash>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>

#include <algorithm>
#include <cstdio>

using QRedlock::RedisEndpoint;

namespace QRedlockCli {

namespace {

// Compare-and-delete like the library's release, but telling "absent" from "someone else's":
// 1 = deleted, 0 = no such key, a string = the value of another holder (kept).
const char ReleaseLua[] = R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if v == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return v
)lua";

void printLine(const QString &line)
{
    std::fputs(qPrintable(line + u'\n'), stdout);
}

// Holder tokens are shown shortened (enough to tell holders apart, not enough to release).
QString shorten(const QByteArray &value)
{
    QString out;
    for (const char c : value.left(8))
        out += (c >= 0x21 && c <= 0x7e) ? QChar::fromLatin1(c) : u'?';
    return value.size() > 8 ? out + QStringLiteral("...") : out;
}

// The exit status when too few servers gave a usable answer to decide: 68 when those that
// were unreachable or timed out are too many for a quorum on their own; otherwise the
// refusals decided it: 77 for credentials or ACL, 76 for protocol or TLS failures
// (whichever more servers gave; 77 on a tie).
int failureExitCode(int unreachable, int auth, int protocol, int total, int quorum)
{
    if (unreachable > total - quorum || (auth == 0 && protocol == 0))
        return ExitNoQuorum;
    return auth >= protocol ? ExitNoPermission : ExitProtocol;
}

struct FailureCounts
{
    int unreachable = 0;
    int auth = 0;
    int protocol = 0;

    void add(RespClient::Failure f)
    {
        unreachable += f == RespClient::Failure::Unreachable ? 1 : 0;
        auth += f == RespClient::Failure::Auth ? 1 : 0;
        protocol += f == RespClient::Failure::Protocol ? 1 : 0;
    }
    int exitCode(int total, int quorum) const { return failureExitCode(unreachable, auth, protocol, total, quorum); }
};

bool isWrongType(const RespValue &v)
{
    return v.type == RespValue::Type::Error && v.text.startsWith("WRONGTYPE");
}

// What status learnt about one server.
struct ServerView
{
    QString server;
    bool reachable = false; // every command got a reply
    bool answered = false;  // ... and none was an error that leaves the key's state unknown
    RespClient::Failure failure = RespClient::Failure::None;
    bool exists = false;
    QByteArray holder;     // the key's value, when it is a string
    qint64 pttl = -2;      // -2: no key, -1: no expiry
    qint64 fencing = -1;   // the fencing counter, -1 when there is none
    QString error;         // transport failure or a Redis error reply
};

ServerView viewOf(const RespClient &client)
{
    ServerView v;
    v.server = client.endpoint().toString();
    if (!client.succeeded()) {
        v.error = client.errorString();
        v.failure = client.failure();
        return v;
    }
    v.reachable = true;
    const RespValue &get = client.replies().at(0);
    const RespValue &pttl = client.replies().at(1);
    const RespValue &fence = client.replies().at(2);
    // An error (NOAUTH, NOPERM, LOADING, ...) says nothing about the key: no answer. Only
    // WRONGTYPE does: something else lives under this key.
    for (const RespValue *r : { &get, &pttl, &fence }) {
        if (r->type == RespValue::Type::Error && !isWrongType(*r)) {
            v.error = QString::fromUtf8(r->text);
            v.failure = RespClient::failureOf(r->text);
            return v;
        }
    }
    v.answered = true;
    if (get.type == RespValue::Type::String) {
        v.exists = true;
        v.holder = get.text;
    } else if (isWrongType(get)) {
        v.exists = true;
        v.error = QString::fromUtf8(get.text);
    }
    if (pttl.type == RespValue::Type::Integer)
        v.pttl = pttl.integer;
    if (fence.type == RespValue::Type::String) {
        bool ok = false;
        const qint64 n = fence.text.toLongLong(&ok);
        if (ok)
            v.fencing = n;
    }
    return v;
}

} // namespace

// ---- ServerSweep -------------------------------------------------------------------------

ServerSweep::ServerSweep(const Settings &settings, QObject *parent)
    : QObject(parent), m_settings(settings), m_key((settings.keyPrefix + settings.resource).toUtf8())
{
}

int ServerSweep::start()
{
    const int timeout = m_settings.serverTimeout > 0 ? std::max(1000, 4 * m_settings.serverTimeout) : 1000;
    const QList<RespClient::Command> batch = m_settings.subcommand == Subcommand::Release
            ? QList<RespClient::Command> { { QByteArrayLiteral("EVAL"), QByteArray(ReleaseLua), QByteArrayLiteral("1"),
                                             m_key, m_settings.token } }
            : QList<RespClient::Command> { { QByteArrayLiteral("GET"), m_key },
                                           { QByteArrayLiteral("PTTL"), m_key },
                                           { QByteArrayLiteral("GET"), m_key + QByteArrayLiteral(":fencing") } };
    m_pending = int(m_settings.servers.size());
    for (const QString &url : std::as_const(m_settings.servers)) {
        auto *client = new RespClient(RedisEndpoint::fromString(url), timeout, this);
        m_clients.append(client);
        connect(client, &RespClient::finished, this, [this, client] {
            qCDebug(lcCli).noquote() << client->endpoint().toString()
                                     << (client->succeeded() ? QStringLiteral("answered") : client->errorString());
            if (--m_pending == 0)
                Q_EMIT finished(m_settings.subcommand == Subcommand::Release ? reportRelease() : reportStatus());
        });
        client->exchange(batch);
    }
    return -1;
}

// ---- status ------------------------------------------------------------------------------

int ServerSweep::reportStatus() const
{
    QList<ServerView> views;
    QHash<QByteArray, int> holders;
    int answered = 0;
    bool anyKey = false;
    FailureCounts failures;
    for (const RespClient *c : m_clients) {
        const ServerView v = viewOf(*c);
        answered += v.answered ? 1 : 0;
        failures.add(v.failure);
        anyKey = anyKey || v.exists;
        if (v.exists && v.error.isEmpty())
            ++holders[v.holder];
        views.append(v);
    }
    QByteArray top;
    int topCount = 0;
    for (auto it = holders.cbegin(); it != holders.cend(); ++it) {
        if (it.value() > topCount) {
            top = it.key();
            topCount = it.value();
        }
    }
    const int total = int(views.size());
    const int silent = total - answered;
    QString verdict;
    QString detail;
    if (topCount >= quorum()) {
        verdict = QStringLiteral("held");
        detail = QStringLiteral("%1 of %2 servers hold token %3").arg(topCount).arg(total).arg(shorten(top));
    } else if (topCount + silent >= quorum()) {
        // The servers that did not answer could still make up a quorum for someone.
        verdict = QStringLiteral("unknown");
        detail = QStringLiteral("%1 of %2 servers answered").arg(answered).arg(total);
    } else if (anyKey) {
        verdict = QStringLiteral("split");
        QStringList parts;
        for (auto it = holders.cbegin(); it != holders.cend(); ++it)
            parts << QStringLiteral("%1 on %2").arg(shorten(it.key())).arg(it.value());
        std::sort(parts.begin(), parts.end());
        detail = QStringLiteral("no token on a quorum: %1").arg(parts.join(QStringLiteral(", ")));
    } else {
        verdict = QStringLiteral("free");
        detail = QStringLiteral("no key on the %1 servers that answered").arg(answered);
    }

    if (m_settings.json) {
        QJsonArray servers;
        for (const ServerView &v : std::as_const(views)) {
            QJsonObject o;
            o.insert(QStringLiteral("server"), v.server);
            o.insert(QStringLiteral("reachable"), v.reachable);
            o.insert(QStringLiteral("exists"), v.answered ? QJsonValue(v.exists) : QJsonValue());
            o.insert(QStringLiteral("holder"), v.exists && v.error.isEmpty() ? QJsonValue(shorten(v.holder)) : QJsonValue());
            o.insert(QStringLiteral("pttl"), v.exists && v.pttl >= -1 ? QJsonValue(v.pttl) : QJsonValue());
            o.insert(QStringLiteral("fencingCounter"), v.fencing >= 0 ? QJsonValue(v.fencing) : QJsonValue());
            o.insert(QStringLiteral("error"), v.error.isEmpty() ? QJsonValue() : QJsonValue(v.error));
            servers.append(o);
        }
        QJsonObject root;
        root.insert(QStringLiteral("resource"), m_settings.resource);
        root.insert(QStringLiteral("key"), QString::fromUtf8(m_key));
        root.insert(QStringLiteral("quorum"), quorum());
        root.insert(QStringLiteral("verdict"), verdict);
        root.insert(QStringLiteral("detail"), detail);
        root.insert(QStringLiteral("holder"), verdict == QLatin1String("held") ? QJsonValue(shorten(top)) : QJsonValue());
        root.insert(QStringLiteral("holderServers"), topCount);
        root.insert(QStringLiteral("servers"), servers);
        std::fputs(QJsonDocument(root).toJson(QJsonDocument::Indented).constData(), stdout);
    } else {
        printLine(QStringLiteral("lock '%1' (key '%2') on %3 servers, quorum %4")
                          .arg(m_settings.resource, QString::fromUtf8(m_key)).arg(total).arg(quorum()));
        for (const ServerView &v : std::as_const(views)) {
            QString line = QStringLiteral("  %1  ").arg(v.server);
            if (!v.reachable)
                line += QStringLiteral("unreachable: %1").arg(v.error);
            else if (!v.error.isEmpty())
                line += QStringLiteral("error: %1").arg(v.error);
            else if (!v.exists)
                line += QStringLiteral("free");
            else
                line += QStringLiteral("held by %1, pttl %2").arg(shorten(v.holder),
                        v.pttl >= 0 ? QStringLiteral("%1 ms").arg(v.pttl) : QStringLiteral("none (no expiry!)"));
            if (v.fencing >= 0)
                line += QStringLiteral(", fencing counter %1").arg(v.fencing);
            printLine(line);
        }
        printLine(QStringLiteral("verdict: %1 (%2)").arg(verdict, detail));
    }
    std::fflush(stdout);
    return verdict == QLatin1String("unknown") ? failures.exitCode(total, quorum()) : ExitSuccess;
}

// ---- release -----------------------------------------------------------------------------

int ServerSweep::reportRelease() const
{
    int removed = 0;
    int absent = 0;
    int foreign = 0;     // held under another token, or not a lock value at all
    int failed = 0;      // no usable answer
    FailureCounts failures;
    QStringList lines;
    for (const RespClient *c : m_clients) {
        QString outcome;
        if (!c->succeeded()) {
            ++failed;
            failures.add(c->failure());
            outcome = QStringLiteral("unreachable: %1").arg(c->errorString());
        } else {
            const RespValue &r = c->replies().constFirst();
            if (r.type == RespValue::Type::Error && !isWrongType(r)) {
                // NOAUTH, NOPERM, READONLY, LOADING, ...: the key's state is unknown there.
                ++failed;
                failures.add(RespClient::failureOf(r.text));
                outcome = QStringLiteral("error: %1").arg(QString::fromUtf8(r.text));
            } else if (r.type == RespValue::Type::Integer && r.integer == 1) {
                ++removed;
                outcome = QStringLiteral("removed");
            } else if (r.type == RespValue::Type::Integer && r.integer == 0) {
                ++absent;
                outcome = QStringLiteral("absent");
            } else if (r.type == RespValue::Type::String) {
                ++foreign;
                outcome = QStringLiteral("kept: held by another token (%1)").arg(shorten(r.text));
            } else {
                ++foreign;
                outcome = QStringLiteral("kept: %1").arg(r.type == RespValue::Type::Error
                                                         ? QString::fromUtf8(r.text)
                                                         : QStringLiteral("unexpected reply"));
            }
        }
        lines << QStringLiteral("  %1  %2").arg(c->endpoint().toString(), outcome);
    }

    const int total = int(m_clients.size());
    int code = ExitSuccess;
    QString summary;
    if (removed > 0) {
        summary = QStringLiteral("released '%1' on %2 of %3 servers").arg(m_settings.resource).arg(removed).arg(total);
    } else if (foreign > 0) {
        code = ExitDataError;
        summary = QStringLiteral("nothing released: '%1' is held under another token").arg(m_settings.resource);
    } else if (failed > 0) {
        code = failures.exitCode(total, quorum());
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
