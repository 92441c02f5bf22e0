// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "redisendpoint.h"

#include <QtCore/QDir>
#include <QtCore/QFileInfo>
#include <QtCore/QUrl>
#include <QtCore/QUrlQuery>
#include <QtNetwork/QHostAddress>

namespace QRedlock {

class RedisEndpointData : public QSharedData
{
public:
    QString error;
    RedisEndpoint::Transport transport = RedisEndpoint::Transport::Tcp;
    QString host;
    quint16 port = 0;
    QString socketPath;
    int database = 0;
    QString username;
    QString password;
    bool hasPassword = false;
    QString caFile;
    QString certFile;
    QString keyFile;
    bool verifyPeer = true;
    QString serverName;
};

namespace {

constexpr quint16 DefaultPort = 6379;

QString schemeOf(RedisEndpoint::Transport t)
{
    switch (t) {
    case RedisEndpoint::Transport::Tcp: return QStringLiteral("redis");
    case RedisEndpoint::Transport::Tls: return QStringLiteral("rediss");
    case RedisEndpoint::Transport::Unix: return QStringLiteral("unix");
    }
    return QString();
}

bool isHostNameChar(QChar c)
{
    return (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9')
            || c == u'.' || c == u'-' || c == u'_';
}

// Parses a database index: decimal digits only, 0 .. 1,000,000.
bool parseDatabase(const QString &text, int *db)
{
    if (text.isEmpty() || text.size() > 7)
        return false;
    for (QChar c : text) {
        if (c < u'0' || c > u'9')
            return false;
    }
    *db = text.toInt();
    return true;
}

bool parseBool(const QString &text, bool *value)
{
    const QString t = text.toLower();
    if (t == u"1" || t == u"true" || t == u"yes" || t == u"on") {
        *value = true;
        return true;
    }
    if (t == u"0" || t == u"false" || t == u"no" || t == u"off") {
        *value = false;
        return true;
    }
    return false;
}

QString decoded(const QString &part)
{
    return QUrl::fromPercentEncoding(part.toUtf8());
}

QString encoded(const QString &part)
{
    return QString::fromLatin1(QUrl::toPercentEncoding(part));
}

// A socket path or option value in a printed URL: '/' stays, whatever the parser splits on
// ('@', '?', '&', '#', '%') is escaped, so that toString() parses back (found by fuzzing).
QString encodedPath(const QString &part)
{
    return QString::fromLatin1(QUrl::toPercentEncoding(part, "/"));
}

class Parser
{
public:
    explicit Parser(RedisEndpointData *d) : d(d) { }

    bool fail(const QString &message)
    {
        d->error = message;
        return false;
    }

    bool parse(const QString &input)
    {
        const QString url = input.trimmed();
        if (url.isEmpty())
            return fail(QStringLiteral("empty server URL"));
        for (QChar c : url) {
            if (c.isSpace() || c.category() == QChar::Other_Control)
                return fail(QStringLiteral("server URL contains white space or control characters"));
        }
        const qsizetype sep = url.indexOf(u"://");
        if (sep < 0)
            return fail(QStringLiteral("missing scheme in server URL: expected redis://, rediss:// or unix://"));
        const QString scheme = url.left(sep).toLower();
        QString rest = url.mid(sep + 3);
        if (rest.contains(u'#'))
            return fail(QStringLiteral("unexpected fragment ('#...') in server URL"));

        QString query;
        const qsizetype q = rest.indexOf(u'?');
        if (q >= 0) {
            query = rest.mid(q + 1);
            rest.truncate(q);
        }

        if (scheme == u"redis") {
            d->transport = RedisEndpoint::Transport::Tcp;
        } else if (scheme == u"rediss") {
            d->transport = RedisEndpoint::Transport::Tls;
        } else if (scheme == u"unix") {
            d->transport = RedisEndpoint::Transport::Unix;
        } else {
            return fail(QStringLiteral("unknown scheme '%1': expected redis, rediss or unix").arg(scheme));
        }

        if (d->transport == RedisEndpoint::Transport::Unix) {
            if (!parseUnixPath(rest))
                return false;
        } else if (!parseNetworkPart(rest)) {
            return false;
        }
        return parseQuery(query);
    }

private:
    bool parseUnixPath(const QString &rest)
    {
        QString path = rest;
        const qsizetype at = path.lastIndexOf(u'@');
        if (at >= 0) {
            if (!parseUserInfo(path.left(at)))
                return false;
            path = path.mid(at + 1);
        }
        path = decoded(path);
        if (path.isEmpty())
            return fail(QStringLiteral("missing socket path in unix:// URL (expected unix:///path/to/redis.sock)"));
        if (!path.startsWith(u'/'))
            return fail(QStringLiteral("socket path '%1' must be absolute (unix:///path/to/redis.sock)").arg(path));
        d->socketPath = QDir::cleanPath(path);
        return true;
    }

    bool parseUserInfo(const QString &userInfo)
    {
        const qsizetype colon = userInfo.indexOf(u':');
        if (colon < 0) {
            if (userInfo.isEmpty())
                return fail(QStringLiteral("empty user information before '@'"));
            return fail(QStringLiteral("user '%1' given without a password (expected user:password@)")
                                .arg(decoded(userInfo)));
        }
        d->username = decoded(userInfo.left(colon));
        d->password = decoded(userInfo.mid(colon + 1));
        if (d->password.isEmpty())
            return fail(QStringLiteral("empty password in user information"));
        d->hasPassword = true;
        return true;
    }

    bool parseNetworkPart(const QString &rest)
    {
        // The user information ends at the last '@' (a password may hold '/' or '@'
        // unencoded); host, port and database follow it.
        QString authority = rest;
        const qsizetype at = rest.lastIndexOf(u'@');
        if (at >= 0) {
            if (!parseUserInfo(rest.left(at)))
                return false;
            authority = rest.mid(at + 1);
        }
        QString path;
        const qsizetype slash = authority.indexOf(u'/');
        if (slash >= 0) {
            path = authority.mid(slash + 1);
            authority.truncate(slash);
        }
        if (!parseHostPort(authority))
            return false;
        if (path.endsWith(u'/'))
            path.chop(1);
        if (!path.isEmpty() && !parseDatabase(path, &d->database))
            return fail(QStringLiteral("invalid database '%1' (expected a number like /0 or /2)").arg(path));
        return true;
    }

    bool parseHostPort(const QString &authority)
    {
        QString host;
        QString portText;
        bool hasPort = false;
        if (authority.startsWith(u'[')) {
            const qsizetype close = authority.indexOf(u']');
            if (close < 0)
                return fail(QStringLiteral("unterminated IPv6 address '%1' (missing ']')").arg(authority));
            host = authority.mid(1, close - 1);
            const QString after = authority.mid(close + 1);
            if (!after.isEmpty()) {
                if (!after.startsWith(u':'))
                    return fail(QStringLiteral("unexpected '%1' after IPv6 address").arg(after));
                hasPort = true;
                portText = after.mid(1);
            }
            QHostAddress address;
            if (!address.setAddress(host) || address.protocol() != QAbstractSocket::IPv6Protocol)
                return fail(QStringLiteral("invalid IPv6 address '%1'").arg(host));
        } else {
            const qsizetype colons = authority.count(u':');
            if (colons > 1)
                return fail(QStringLiteral("IPv6 address '%1' must be written in brackets, e.g. redis://[::1]:6379")
                                    .arg(authority));
            const qsizetype colon = authority.indexOf(u':');
            host = colon >= 0 ? authority.left(colon) : authority;
            if (colon >= 0) {
                hasPort = true;
                portText = authority.mid(colon + 1);
            }
            for (QChar c : std::as_const(host)) {
                if (!isHostNameChar(c))
                    return fail(QStringLiteral("invalid character '%1' in host '%2'").arg(c).arg(host));
            }
        }
        if (host.isEmpty())
            return fail(QStringLiteral("missing host in server URL"));
        d->host = host;
        d->port = DefaultPort;
        if (hasPort) {
            bool ok = false;
            const uint port = portText.toUInt(&ok);
            if (portText.isEmpty() || !ok || port == 0 || port > 65535 || portText.startsWith(u'+'))
                return fail(QStringLiteral("invalid port '%1' (expected 1-65535)").arg(portText));
            d->port = quint16(port);
        }
        return true;
    }

    bool parseQuery(const QString &query)
    {
        if (query.isEmpty())
            return true;
        const bool tls = d->transport == RedisEndpoint::Transport::Tls;
        const bool isUnix = d->transport == RedisEndpoint::Transport::Unix;
        const QStringList items = query.split(u'&', Qt::SkipEmptyParts);
        for (const QString &item : items) {
            const qsizetype eq = item.indexOf(u'=');
            const QString key = (eq >= 0 ? item.left(eq) : item).toLower();
            const QString value = eq >= 0 ? decoded(item.mid(eq + 1)) : QString();
            if (eq < 0)
                return fail(QStringLiteral("option '%1' needs a value (%1=...)").arg(key));
            const bool tlsOption = key == u"ca" || key == u"cert" || key == u"key" || key == u"verify"
                    || key == u"sni";
            if (tlsOption && !tls)
                return fail(QStringLiteral("TLS option '%1' needs a rediss:// URL").arg(key));
            if (key == u"ca" || key == u"cert" || key == u"key") {
                if (!QFileInfo(value).isReadable())
                    return fail(QStringLiteral("%1 file '%2' does not exist or is not readable").arg(key, value));
                (key == u"ca" ? d->caFile : key == u"cert" ? d->certFile : d->keyFile) = value;
            } else if (key == u"verify") {
                if (!parseBool(value, &d->verifyPeer))
                    return fail(QStringLiteral("invalid value '%1' for option 'verify' (expected 0 or 1)").arg(value));
            } else if (key == u"sni") {
                if (value.isEmpty())
                    return fail(QStringLiteral("empty value for option 'sni'"));
                d->serverName = value;
            } else if (isUnix && key == u"db") {
                if (!parseDatabase(value, &d->database))
                    return fail(QStringLiteral("invalid database '%1' (expected a number)").arg(value));
            } else if (isUnix && key == u"password") {
                if (value.isEmpty())
                    return fail(QStringLiteral("empty password"));
                d->password = value;
                d->hasPassword = true;
            } else if (isUnix && key == u"user") {
                d->username = value;
            } else {
                return fail(QStringLiteral("unknown option '%1' in server URL").arg(key));
            }
        }
        if (!d->certFile.isEmpty() != !d->keyFile.isEmpty())
            return fail(QStringLiteral("TLS client certificate needs both 'cert' and 'key'"));
        if (!d->username.isEmpty() && !d->hasPassword)
            return fail(QStringLiteral("user '%1' given without a password").arg(d->username));
        return true;
    }

    RedisEndpointData *d;
};

} // namespace

RedisEndpoint::RedisEndpoint() : d(new RedisEndpointData)
{
    d->error = QStringLiteral("no server URL given");
}
RedisEndpoint::RedisEndpoint(const RedisEndpoint &other) = default;
RedisEndpoint::RedisEndpoint(RedisEndpoint &&other) noexcept = default;
RedisEndpoint &RedisEndpoint::operator=(const RedisEndpoint &other) = default;
RedisEndpoint &RedisEndpoint::operator=(RedisEndpoint &&other) noexcept = default;
RedisEndpoint::~RedisEndpoint() = default;

RedisEndpoint RedisEndpoint::fromString(const QString &url)
{
    RedisEndpoint e;
    e.d->error.clear();
    Parser parser(e.d.data());
    if (!parser.parse(url)) {
        const QString error = e.d->error;
        e = RedisEndpoint();
        e.d->error = error;
    }
    return e;
}

bool RedisEndpoint::isValid() const { return d->error.isEmpty(); }
QString RedisEndpoint::errorString() const { return d->error; }
RedisEndpoint::Transport RedisEndpoint::transport() const { return d->transport; }
bool RedisEndpoint::isTls() const { return isValid() && d->transport == Transport::Tls; }
bool RedisEndpoint::isUnixSocket() const { return isValid() && d->transport == Transport::Unix; }
QString RedisEndpoint::host() const { return d->host; }
quint16 RedisEndpoint::port() const { return d->port; }
QString RedisEndpoint::socketPath() const { return d->socketPath; }
int RedisEndpoint::database() const { return d->database; }
QString RedisEndpoint::username() const { return d->username; }
QString RedisEndpoint::password() const { return d->password; }
bool RedisEndpoint::hasPassword() const { return d->hasPassword; }
QString RedisEndpoint::caFile() const { return d->caFile; }
QString RedisEndpoint::certFile() const { return d->certFile; }
QString RedisEndpoint::keyFile() const { return d->keyFile; }
bool RedisEndpoint::verifyPeer() const { return d->verifyPeer; }
QString RedisEndpoint::serverName() const { return d->serverName.isEmpty() ? d->host : d->serverName; }

QString RedisEndpoint::toString() const
{
    if (!isValid())
        return QString();
    QString out = schemeOf(d->transport) + u"://";
    QString auth;
    if (d->hasPassword)
        auth = encoded(d->username) + u":***@";
    QStringList options;
    if (d->transport == Transport::Unix) {
        out += encodedPath(d->socketPath);
        if (d->database != 0)
            options << u"db=" + QString::number(d->database);
        if (!d->username.isEmpty())
            options << u"user=" + encoded(d->username);
        if (d->hasPassword)
            options << QStringLiteral("password=***");
    } else {
        const bool v6 = d->host.contains(u':');
        out += auth + (v6 ? u'[' + d->host + u']' : d->host) + u':' + QString::number(d->port);
        if (d->database != 0)
            out += u'/' + QString::number(d->database);
        if (!d->caFile.isEmpty())
            options << u"ca=" + encodedPath(d->caFile);
        if (!d->certFile.isEmpty())
            options << u"cert=" + encodedPath(d->certFile) << u"key=" + encodedPath(d->keyFile);
        if (!d->verifyPeer)
            options << QStringLiteral("verify=0");
        if (!d->serverName.isEmpty())
            options << u"sni=" + encodedPath(d->serverName);
    }
    if (!options.isEmpty())
        out += u'?' + options.join(u'&');
    return out;
}

QString RedisEndpoint::serverIdentity() const
{
    if (!isValid())
        return QString();
    if (d->transport == Transport::Unix) {
        const QFileInfo info(d->socketPath);
        const QString canonical = info.canonicalFilePath();
        return u"unix:" + (canonical.isEmpty() ? d->socketPath : canonical);
    }
    QString host = d->host.toLower();
    QHostAddress address;
    if (host == u"localhost") {
        host = QStringLiteral("loopback");
    } else if (address.setAddress(host)) {
        bool mapped = false;
        const quint32 v4 = address.toIPv4Address(&mapped);
        if (mapped)
            address = QHostAddress(v4);
        if (address == QHostAddress(QHostAddress::LocalHost)
            || address == QHostAddress(QHostAddress::LocalHostIPv6))
            host = QStringLiteral("loopback");
        else
            host = address.toString();
    }
    return u"tcp:" + host + u':' + QString::number(d->port);
}

bool operator==(const RedisEndpoint &a, const RedisEndpoint &b)
{
    if (a.d == b.d)
        return true;
    const RedisEndpointData &x = *a.d;
    const RedisEndpointData &y = *b.d;
    return x.error == y.error && x.transport == y.transport && x.host == y.host && x.port == y.port
            && x.socketPath == y.socketPath && x.database == y.database && x.username == y.username
            && x.password == y.password && x.hasPassword == y.hasPassword && x.caFile == y.caFile
            && x.certFile == y.certFile && x.keyFile == y.keyFile && x.verifyPeer == y.verifyPeer
            && x.serverName == y.serverName;
}

} // namespace QRedlock
