// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// RedisEndpoint: every URL form the README lists, the errors that name the offending part,
// printing without the password, and the server identity used to refuse duplicates.

#include <QRedlock/RedisEndpoint>

#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <QUrl>
#include <QVariant>

using QRedlock::RedisEndpoint;
using Transport = QRedlock::RedisEndpoint::Transport;

class tst_RedisEndpoint : public QObject
{
    Q_OBJECT

private:
    // Replaces {ca}, {cert} and {key} by the paths of readable files made in initTestCase().
    QString expand(QString text) const;

    QTemporaryDir m_dir;

private Q_SLOTS:
    void initTestCase();

    void defaultConstructed();
    void valid_data();
    void valid();
    void invalid_data();
    void invalid();
    void printing_hidesPassword_data();
    void printing_hidesPassword();
    void printing_reparses_data();
    void printing_reparses();
    void serverIdentity_data();
    void serverIdentity();
    void equality();
    void copiesAreIndependentValues();
};

QString tst_RedisEndpoint::expand(QString text) const
{
    text.replace(QStringLiteral("{ca}"), m_dir.filePath(QStringLiteral("ca.pem")));
    text.replace(QStringLiteral("{cert}"), m_dir.filePath(QStringLiteral("client.pem")));
    text.replace(QStringLiteral("{key}"), m_dir.filePath(QStringLiteral("client.key")));
    return text;
}

void tst_RedisEndpoint::initTestCase()
{
    QVERIFY2(m_dir.isValid(), qPrintable(m_dir.errorString()));
    // The parser only checks that the files are readable; their content is the connection's business.
    for (const char *name : { "ca.pem", "client.pem", "client.key" }) {
        QFile file(m_dir.filePath(QString::fromLatin1(name)));
        QVERIFY2(file.open(QIODevice::WriteOnly), qPrintable(file.errorString()));
        file.write("placeholder\n");
    }
}

void tst_RedisEndpoint::defaultConstructed()
{
    const RedisEndpoint e;
    QVERIFY(!e.isValid());
    QVERIFY(!e.errorString().isEmpty());
    QVERIFY(e.toString().isEmpty());
    QVERIFY(e.serverIdentity().isEmpty());
    QVERIFY(!e.isTls());
    QVERIFY(!e.isUnixSocket());
}

void tst_RedisEndpoint::valid_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<Transport>("transport");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("socketPath");
    QTest::addColumn<int>("database");
    QTest::addColumn<QString>("username");
    QTest::addColumn<QString>("password");
    QTest::addColumn<QString>("caFile");
    QTest::addColumn<QString>("certFile");
    QTest::addColumn<QString>("keyFile");
    QTest::addColumn<bool>("verifyPeer");
    QTest::addColumn<QString>("serverName");
    QTest::addColumn<QString>("printed");

    const QString none;
    const auto tcp = [&](const char *tag, const char *url, const char *host, int port, int db,
                         const QString &user, const QString &password, const char *printed) {
        QTest::newRow(tag) << QString::fromUtf8(url) << Transport::Tcp << QString::fromUtf8(host) << port
                           << none << db << user << password << none << none << none << true
                           << QString::fromUtf8(host) << QString::fromUtf8(printed);
    };
    tcp("host only, default port", "redis://localhost", "localhost", 6379, 0, none, none,
        "redis://localhost:6379");
    tcp("ipv4 and port", "redis://127.0.0.1:6380", "127.0.0.1", 6380, 0, none, none, "redis://127.0.0.1:6380");
    tcp("database", "redis://127.0.0.1:6380/2", "127.0.0.1", 6380, 2, none, none, "redis://127.0.0.1:6380/2");
    tcp("database 0 is not printed", "redis://h:1/0", "h", 1, 0, none, none, "redis://h:1");
    tcp("trailing slash", "redis://127.0.0.1:6380/", "127.0.0.1", 6380, 0, none, none, "redis://127.0.0.1:6380");
    tcp("database with trailing slash", "redis://h:7/15/", "h", 7, 15, none, none, "redis://h:7/15");
    tcp("scheme is case-insensitive", "REDIS://Example.COM:1", "Example.COM", 1, 0, none, none,
        "redis://Example.COM:1");
    tcp("highest port, name characters", "redis://my-host_1.example.org:65535/3", "my-host_1.example.org",
        65535, 3, none, none, "redis://my-host_1.example.org:65535/3");
    tcp("surrounding white space is trimmed", "  redis://h:9  ", "h", 9, 0, none, none, "redis://h:9");
    tcp("ipv6 loopback", "redis://[::1]:7000/3", "::1", 7000, 3, none, none, "redis://[::1]:7000/3");
    tcp("ipv6 default port", "redis://[::1]", "::1", 6379, 0, none, none, "redis://[::1]:6379");
    tcp("ipv6 full", "redis://[2001:db8::7]:1", "2001:db8::7", 1, 0, none, none, "redis://[2001:db8::7]:1");
    tcp("user and password", "redis://alice:s3cret@db.example:1234/1", "db.example", 1234, 1,
        QStringLiteral("alice"), QStringLiteral("s3cret"), "redis://alice:***@db.example:1234/1");
    tcp("password only", "redis://:s3cret@db.example", "db.example", 6379, 0, none, QStringLiteral("s3cret"),
        "redis://:***@db.example:6379");
    tcp("percent-encoded user and password", "redis://us%40er:p%3Ass%2Fw%25rd@h:2", "h", 2, 0,
        QStringLiteral("us@er"), QStringLiteral("p:ss/w%rd"), "redis://us%40er:***@h:2");
    tcp("'@' in the password", "redis://u:p@ss@h", "h", 6379, 0, QStringLiteral("u"), QStringLiteral("p@ss"),
        "redis://u:***@h:6379");
    tcp("'/' in the password, unencoded", "redis://u:pa/ss@h:7/3", "h", 7, 3, QStringLiteral("u"),
        QStringLiteral("pa/ss"), "redis://u:***@h:7/3");
    tcp("non-ASCII password", "redis://:p%C3%A4ss@h", "h", 6379, 0, none, QStringLiteral("p\u00e4ss"),
        "redis://:***@h:6379");
    tcp("user, password and ipv6", "redis://bob:pw@[::1]:6390/4", "::1", 6390, 4, QStringLiteral("bob"),
        QStringLiteral("pw"), "redis://bob:***@[::1]:6390/4");

    QTest::newRow("tls, defaults") << QStringLiteral("rediss://127.0.0.1:6380") << Transport::Tls
                                   << QStringLiteral("127.0.0.1") << 6380 << none << 0 << none << none << none
                                   << none << none << true << QStringLiteral("127.0.0.1")
                                   << QStringLiteral("rediss://127.0.0.1:6380");
    QTest::newRow("tls, every option")
            << QStringLiteral("rediss://user:secret@127.0.0.1:6380/2?ca={ca}&cert={cert}&key={key}&verify=0&sni=redis.local")
            << Transport::Tls << QStringLiteral("127.0.0.1") << 6380 << none << 2 << QStringLiteral("user")
            << QStringLiteral("secret") << QStringLiteral("{ca}") << QStringLiteral("{cert}")
            << QStringLiteral("{key}") << false << QStringLiteral("redis.local")
            << QStringLiteral("rediss://user:***@127.0.0.1:6380/2?ca={ca}&cert={cert}&key={key}&verify=0&sni=redis.local");
    QTest::newRow("tls, ca only, verify=1")
            << QStringLiteral("rediss://h?ca={ca}&verify=1") << Transport::Tls << QStringLiteral("h") << 6379
            << none << 0 << none << none << QStringLiteral("{ca}") << none << none << true << QStringLiteral("h")
            << QStringLiteral("rediss://h:6379?ca={ca}");
    QTest::newRow("tls, option names case-insensitive, verify=false")
            << QStringLiteral("rediss://[::1]:6390?VERIFY=false&SNI=a.b") << Transport::Tls << QStringLiteral("::1")
            << 6390 << none << 0 << none << none << none << none << none << false << QStringLiteral("a.b")
            << QStringLiteral("rediss://[::1]:6390?verify=0&sni=a.b");
    QTest::newRow("tls, percent-encoded sni, empty options skipped")
            << QStringLiteral("rediss://h:1?&sni=x%2Dy.z&&") << Transport::Tls << QStringLiteral("h") << 1 << none
            << 0 << none << none << none << none << none << true << QStringLiteral("x-y.z")
            << QStringLiteral("rediss://h:1?sni=x-y.z");

    const auto unixRow = [&](const char *tag, const char *url, const char *path, int db, const QString &user,
                             const QString &password, const char *printed) {
        QTest::newRow(tag) << QString::fromUtf8(url) << Transport::Unix << none << 0 << QString::fromUtf8(path)
                           << db << user << password << none << none << none << true << none
                           << QString::fromUtf8(printed);
    };
    unixRow("unix socket", "unix:///var/run/redis/redis.sock", "/var/run/redis/redis.sock", 0, none, none,
            "unix:///var/run/redis/redis.sock");
    unixRow("unix socket, database", "unix:///tmp/r.sock?db=3", "/tmp/r.sock", 3, none, none,
            "unix:///tmp/r.sock?db=3");
    unixRow("unix socket, path cleaned", "unix:///tmp//x/../r.sock", "/tmp/r.sock", 0, none, none,
            "unix:///tmp/r.sock");
    unixRow("unix socket, user and password options", "unix:///tmp/r.sock?db=1&user=alice&password=pw",
            "/tmp/r.sock", 1, QStringLiteral("alice"), QStringLiteral("pw"),
            "unix:///tmp/r.sock?db=1&user=alice&password=***");
    unixRow("unix socket, encoded password option", "unix:///tmp/r.sock?password=p%26w%3D", "/tmp/r.sock", 0,
            none, QStringLiteral("p&w="), "unix:///tmp/r.sock?password=***");
}

void tst_RedisEndpoint::valid()
{
    QFETCH(QString, url);
    QFETCH(Transport, transport);
    QFETCH(QString, host);
    QFETCH(int, port);
    QFETCH(QString, socketPath);
    QFETCH(int, database);
    QFETCH(QString, username);
    QFETCH(QString, password);
    QFETCH(QString, caFile);
    QFETCH(QString, certFile);
    QFETCH(QString, keyFile);
    QFETCH(bool, verifyPeer);
    QFETCH(QString, serverName);
    QFETCH(QString, printed);

    const RedisEndpoint e = RedisEndpoint::fromString(expand(url));
    QVERIFY2(e.isValid(), qPrintable(e.errorString()));
    QCOMPARE(e.errorString(), QString());
    QCOMPARE(e.transport(), transport);
    QCOMPARE(e.isTls(), transport == Transport::Tls);
    QCOMPARE(e.isUnixSocket(), transport == Transport::Unix);
    QCOMPARE(e.host(), host);
    QCOMPARE(int(e.port()), port);
    QCOMPARE(e.socketPath(), socketPath);
    QCOMPARE(e.database(), database);
    QCOMPARE(e.username(), username);
    QCOMPARE(e.password(), password);
    QCOMPARE(e.hasPassword(), !password.isEmpty());
    QCOMPARE(e.caFile(), expand(caFile));
    QCOMPARE(e.certFile(), expand(certFile));
    QCOMPARE(e.keyFile(), expand(keyFile));
    QCOMPARE(e.verifyPeer(), verifyPeer);
    QCOMPARE(e.serverName(), serverName);
    QCOMPARE(e.toString(), expand(printed));
    QVERIFY(!e.serverIdentity().isEmpty());
}

void tst_RedisEndpoint::invalid_data()
{
    QTest::addColumn<QString>("url");
    // Words the error must contain (case-insensitive): they name the offending part.
    QTest::addColumn<QStringList>("mentions");

    const auto row = [](const char *url, std::initializer_list<const char *> words) {
        QStringList list;
        for (const char *w : words)
            list << QString::fromUtf8(w);
        QTest::newRow(url) << QString::fromUtf8(url) << list;
    };
    row("", { "empty" });
    row("   ", { "empty" });
    row("localhost:6379", { "scheme" });
    row("redis:/localhost", { "scheme" });
    row("http://localhost", { "scheme", "http" });
    row("tcp://127.0.0.1:6379", { "scheme", "tcp" });
    row("redis://", { "host" });
    row("redis://:6379", { "host" });
    row("redis://u:pw@:6379/1", { "host" });
    row("redis://ho$t:6379", { "host", "$" });
    row("redis://host/name:1", { "database" });
    row("redis://ho st", { "white space" });
    row("redis://h\tst", { "white space" });
    row("redis://host:", { "port" });
    row("redis://host:0", { "port", "0" });
    row("redis://host:65536", { "port", "65536" });
    row("redis://host:99999999999", { "port" });
    row("redis://host:abc", { "port", "abc" });
    row("redis://host:-1", { "port" });
    row("redis://host:+80", { "port" });
    row("redis://host:80x", { "port" });
    row("redis://host/abc", { "database", "abc" });
    row("redis://host/-1", { "database" });
    row("redis://host/1/2", { "database" });
    row("redis://host/12345678", { "database" });
    row("redis://host/1.5", { "database" });
    row("redis://::1:6379", { "ipv6", "brackets" });
    row("redis://[::1", { "ipv6", "]" });
    row("redis://[127.0.0.1]:6379", { "ipv6" });
    row("redis://[fe80::zz]", { "ipv6" });
    row("redis://[::1]6379", { "ipv6" });
    row("redis://[]:6379", { "ipv6" });
    row("redis://alice@host", { "password", "alice" });
    row("redis://@host", { "user" });
    row("redis://alice:@host", { "password" });
    row("redis://host#fragment", { "fragment" });
    row("redis://host?ca=/etc/hostname", { "tls", "rediss", "ca" });
    row("redis://host?verify=0", { "tls", "verify" });
    row("redis://host?db=2", { "option", "db" });
    row("rediss://host?ca=/nonexistent/qredlock-ca.pem", { "ca", "/nonexistent/qredlock-ca.pem" });
    row("rediss://host?cert=/nonexistent/c.pem&key=/nonexistent/k.pem", { "cert" });
    row("rediss://host?verify=maybe", { "verify", "maybe" });
    row("rediss://host?verify", { "verify", "value" });
    row("rediss://host?sni=", { "sni" });
    row("rediss://host?timeout=5", { "option", "timeout" });
    row("unix://", { "socket path" });
    row("unix://relative/redis.sock", { "absolute" });
    row("unix:///tmp/r.sock?db=x", { "database", "x" });
    row("unix:///tmp/r.sock?db=-3", { "database" });
    row("unix:///tmp/r.sock?user=bob", { "password", "bob" });
    row("unix:///tmp/r.sock?password=", { "password" });
    row("unix:///tmp/r.sock?ca=/etc/hostname", { "tls" });
    row("unix:///tmp/r.sock?colour=blue", { "option", "colour" });
    // Client certificate and key only make sense together (files exist: only the pairing is wrong).
    QTest::newRow("cert without key") << QStringLiteral("rediss://h?cert={cert}")
                                      << QStringList { QStringLiteral("cert"), QStringLiteral("key") };
    QTest::newRow("key without cert") << QStringLiteral("rediss://h?key={key}")
                                      << QStringList { QStringLiteral("cert"), QStringLiteral("key") };
}

void tst_RedisEndpoint::invalid()
{
    QFETCH(QString, url);
    QFETCH(QStringList, mentions);

    const RedisEndpoint e = RedisEndpoint::fromString(expand(url));
    QVERIFY2(!e.isValid(), qPrintable(u"accepted: " + e.toString()));
    const QString error = e.errorString();
    QVERIFY(!error.isEmpty());
    for (const QString &word : std::as_const(mentions))
        QVERIFY2(error.contains(word, Qt::CaseInsensitive),
                 qPrintable(QStringLiteral("error '%1' does not mention '%2'").arg(error, word)));
    // An invalid endpoint exposes nothing that could be used by mistake.
    QCOMPARE(e.toString(), QString());
    QCOMPARE(e.serverIdentity(), QString());
    QCOMPARE(e.host(), QString());
    QCOMPARE(e.password(), QString());
    QVERIFY(!e.isTls());
    QVERIFY(!e.isUnixSocket());
}

void tst_RedisEndpoint::printing_hidesPassword_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("password");

    QTest::newRow("user") << QStringLiteral("redis://alice:Tr0ub4dor@h:1/2") << QStringLiteral("Tr0ub4dor");
    QTest::newRow("password only") << QStringLiteral("redis://:Tr0ub4dor@h") << QStringLiteral("Tr0ub4dor");
    QTest::newRow("encoded") << QStringLiteral("redis://u:x%2Fy%40z@h") << QStringLiteral("x/y@z");
    QTest::newRow("tls") << QStringLiteral("rediss://u:Tr0ub4dor@h?verify=0") << QStringLiteral("Tr0ub4dor");
    QTest::newRow("ipv6") << QStringLiteral("redis://u:Tr0ub4dor@[::1]:5") << QStringLiteral("Tr0ub4dor");
    QTest::newRow("unix") << QStringLiteral("unix:///tmp/r.sock?password=Tr0ub4dor&user=u")
                          << QStringLiteral("Tr0ub4dor");
    QTest::newRow("unix, encoded") << QStringLiteral("unix:///tmp/r.sock?password=a%26b") << QStringLiteral("a&b");
}

void tst_RedisEndpoint::printing_hidesPassword()
{
    QFETCH(QString, url);
    QFETCH(QString, password);

    const RedisEndpoint e = RedisEndpoint::fromString(url);
    QVERIFY2(e.isValid(), qPrintable(e.errorString()));
    QCOMPARE(e.password(), password);
    const QString printed = e.toString();
    QVERIFY2(!printed.contains(password), qPrintable(printed));
    QVERIFY2(!printed.contains(QString::fromLatin1(QUrl::toPercentEncoding(password))), qPrintable(printed));
    QVERIFY2(printed.contains(QStringLiteral("***")), qPrintable(printed));
    QVERIFY(!e.serverIdentity().contains(password));
    // Nor does the error of a URL that is broken elsewhere show it.
    const QStringList brokenForms = { url + u"#x", u' ' + url.mid(0, url.size() - 1) + u" x",
                                      url.mid(url.indexOf(u"://") + 3) };
    for (const QString &broken : brokenForms) {
        const RedisEndpoint bad = RedisEndpoint::fromString(broken);
        QVERIFY2(!bad.isValid(), qPrintable(broken));
        QVERIFY2(!bad.errorString().contains(password), qPrintable(bad.errorString()));
    }
}

void tst_RedisEndpoint::printing_reparses_data()
{
    valid_data();
}

void tst_RedisEndpoint::printing_reparses()
{
    QFETCH(QString, url);

    const RedisEndpoint first = RedisEndpoint::fromString(expand(url));
    QVERIFY2(first.isValid(), qPrintable(first.errorString()));
    const RedisEndpoint again = RedisEndpoint::fromString(first.toString());
    QVERIFY2(again.isValid(), qPrintable(again.errorString()));
    // Everything survives printing except the password, which becomes "***".
    QCOMPARE(again.transport(), first.transport());
    QCOMPARE(again.host(), first.host());
    QCOMPARE(again.port(), first.port());
    QCOMPARE(again.socketPath(), first.socketPath());
    QCOMPARE(again.database(), first.database());
    QCOMPARE(again.username(), first.username());
    QCOMPARE(again.hasPassword(), first.hasPassword());
    QCOMPARE(again.caFile(), first.caFile());
    QCOMPARE(again.certFile(), first.certFile());
    QCOMPARE(again.keyFile(), first.keyFile());
    QCOMPARE(again.verifyPeer(), first.verifyPeer());
    QCOMPARE(again.serverName(), first.serverName());
    QCOMPARE(again.serverIdentity(), first.serverIdentity());
    QCOMPARE(again.toString(), first.toString());
    if (first.hasPassword())
        QCOMPARE(again.password(), QStringLiteral("***"));
}

void tst_RedisEndpoint::serverIdentity_data()
{
    QTest::addColumn<QString>("a");
    QTest::addColumn<QString>("b");
    QTest::addColumn<bool>("same");

    const auto row = [](const char *a, const char *b, bool same) {
        QTest::addRow("%s %s %s", a, same ? "==" : "!=", b)
                << QString::fromUtf8(a) << QString::fromUtf8(b) << same;
    };
    row("redis://localhost:7000", "redis://127.0.0.1:7000", true);
    row("redis://127.0.0.1:7000", "redis://[::1]:7000", true);
    row("redis://localhost:7000", "redis://[::1]:7000", true);
    row("redis://LocalHost:7000", "redis://[::ffff:127.0.0.1]:7000", true);
    row("redis://localhost", "redis://127.0.0.1:6379", true);
    row("redis://127.0.0.1:7000/", "redis://127.0.0.1:7000", true);
    row("redis://127.0.0.1:7000/1", "redis://127.0.0.1:7000/2", true); // one process, two databases
    row("redis://a:pw@127.0.0.1:7000", "redis://127.0.0.1:7000", true);
    row("rediss://127.0.0.1:7000", "redis://localhost:7000", true);
    row("redis://DB.Example.com:1", "redis://db.example.com:1", true);
    row("redis://[2001:db8:0::7]:1", "redis://[2001:db8::7]:1", true);
    row("unix:///tmp/q/../r.sock", "unix:///tmp/r.sock", true);
    row("unix:///tmp/r.sock?db=1", "unix:///tmp/r.sock?db=2", true);
    row("redis://localhost:7000", "redis://localhost:7001", false);
    row("redis://127.0.0.1:7000", "redis://[::1]:7001", false);
    row("redis://localhost", "redis://localhost:6380", false);
    row("redis://10.0.0.1:7000", "redis://10.0.0.2:7000", false);
    row("redis://db1.example.com:1", "redis://db2.example.com:1", false);
    row("unix:///tmp/r1.sock", "unix:///tmp/r2.sock", false);
    row("unix:///tmp/r.sock", "redis://localhost", false);
}

void tst_RedisEndpoint::serverIdentity()
{
    QFETCH(QString, a);
    QFETCH(QString, b);
    QFETCH(bool, same);

    const RedisEndpoint x = RedisEndpoint::fromString(a);
    const RedisEndpoint y = RedisEndpoint::fromString(b);
    QVERIFY2(x.isValid(), qPrintable(x.errorString()));
    QVERIFY2(y.isValid(), qPrintable(y.errorString()));
    QVERIFY(!x.serverIdentity().isEmpty());
    if (same)
        QCOMPARE(x.serverIdentity(), y.serverIdentity());
    else
        QVERIFY2(x.serverIdentity() != y.serverIdentity(), qPrintable(x.serverIdentity()));
}

void tst_RedisEndpoint::equality()
{
    const RedisEndpoint a = RedisEndpoint::fromString(QStringLiteral("redis://u:pw@127.0.0.1:7000/1"));
    QVERIFY(a == RedisEndpoint::fromString(QStringLiteral("redis://u:pw@127.0.0.1:7000/1")));
    QVERIFY(a != RedisEndpoint::fromString(QStringLiteral("redis://u:other@127.0.0.1:7000/1")));
    QVERIFY(a != RedisEndpoint::fromString(QStringLiteral("redis://u:pw@127.0.0.1:7000/2")));
    QVERIFY(a != RedisEndpoint::fromString(QStringLiteral("rediss://u:pw@127.0.0.1:7000/1")));
    QVERIFY(a != RedisEndpoint());
}

void tst_RedisEndpoint::copiesAreIndependentValues()
{
    RedisEndpoint a = RedisEndpoint::fromString(QStringLiteral("redis://127.0.0.1:7000/1"));
    const RedisEndpoint copy = a;
    QCOMPARE(copy, a);
    a = RedisEndpoint::fromString(QStringLiteral("redis://127.0.0.1:7001"));
    QCOMPARE(copy.port(), quint16(7000));
    QCOMPARE(copy.database(), 1);
    QCOMPARE(a.port(), quint16(7001));

    RedisEndpoint moved = std::move(a);
    QCOMPARE(moved.port(), quint16(7001));

    // It travels through QVariant (queued connections, QML).
    const QVariant v = QVariant::fromValue(copy);
    QCOMPARE(v.value<RedisEndpoint>(), copy);
}

QTEST_GUILESS_MAIN(tst_RedisEndpoint)
#include "tst_redisendpoint.moc"
