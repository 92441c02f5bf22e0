// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// LockManager configuration: validation of servers and timing settings.
#include <QRedlock/DistributedLock>
#include <QRedlock/LockManager>

#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <chrono>

using QRedlock::LockManager;

class tst_LockManager : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaults();
    void badServers_data();
    void badServers();
    void goodServers_data();
    void goodServers();
    void badServersKeepPrevious();
    void timingSettings();
    void defaultManagerFromEnvironment();
    void chronoSetters();
};

void tst_LockManager::defaults()
{
    LockManager m;
    QCOMPARE(m.serverCount(), 0);
    QCOMPARE(m.quorum(), 0);
    QCOMPARE(m.driftFactor(), 0.01);
    QVERIFY(m.serverTimeout() > 0);
    QVERIFY(m.retryCount() >= 0);
    QCOMPARE(m.keyPrefix(), QString());
}

void tst_LockManager::badServers_data()
{
    QTest::addColumn<QStringList>("urls");
    QTest::addColumn<QString>("expected"); // a part of the error message

    QTest::newRow("none") << QStringList() << QStringLiteral("no Redis servers");
    QTest::newRow("only blanks") << QStringList { QStringLiteral(" "), QString() } << QStringLiteral("no Redis servers");
    QTest::newRow("duplicate") << QStringList { QStringLiteral("redis://127.0.0.1:7001"), QStringLiteral("redis://127.0.0.1:7001") }
                               << QStringLiteral("twice");
    QTest::newRow("localhost vs 127.0.0.1")
            << QStringList { QStringLiteral("redis://localhost:7001"), QStringLiteral("redis://127.0.0.1:7001/3") }
            << QStringLiteral("twice");
    QTest::newRow("default port spelled out")
            << QStringList { QStringLiteral("redis://127.0.0.1"), QStringLiteral("redis://127.0.0.1:6379") }
            << QStringLiteral("twice");
    QTest::newRow("ipv6 loopback vs localhost")
            << QStringList { QStringLiteral("redis://[::1]:7002"), QStringLiteral("redis://localhost:7002") }
            << QStringLiteral("twice");
    QTest::newRow("malformed") << QStringList { QStringLiteral("redis://127.0.0.1:notaport") } << QStringLiteral("port");
    QTest::newRow("no scheme") << QStringList { QStringLiteral("127.0.0.1:7001") } << QStringLiteral("scheme");
    QTest::newRow("one bad among good")
            << QStringList { QStringLiteral("redis://127.0.0.1:7001"), QStringLiteral("http://127.0.0.1:7002") }
            << QStringLiteral("scheme");
}

void tst_LockManager::badServers()
{
    QFETCH(QStringList, urls);
    QFETCH(QString, expected);
    LockManager m;
    QSignalSpy changed(&m, &LockManager::serversChanged);
    QVERIFY(!m.setServers(urls));
    QVERIFY2(m.errorString().contains(expected, Qt::CaseInsensitive), qPrintable(m.errorString()));
    QCOMPARE(m.serverCount(), 0);
    QCOMPARE(changed.count(), 0);
}

void tst_LockManager::goodServers_data()
{
    QTest::addColumn<QStringList>("urls");
    QTest::addColumn<int>("count");
    QTest::addColumn<int>("quorum");
    QTest::newRow("1") << QStringList { QStringLiteral("redis://127.0.0.1:7001") } << 1 << 1;
    QTest::newRow("2 (even)") << QStringList { QStringLiteral("redis://127.0.0.1:7001"), QStringLiteral("redis://127.0.0.1:7002") } << 2 << 2;
    QTest::newRow("3 comma separated") << QStringList { QStringLiteral("redis://127.0.0.1:7001,redis://127.0.0.1:7002, redis://127.0.0.1:7003") } << 3 << 2;
    QTest::newRow("5 mixed transports")
            << QStringList { QStringLiteral("redis://127.0.0.1:7001"), QStringLiteral("redis://127.0.0.2:7001"),
                             QStringLiteral("rediss://127.0.0.1:7003"), QStringLiteral("unix:///tmp/a.sock"),
                             QStringLiteral("unix:///tmp/b.sock") }
            << 5 << 3;
}

void tst_LockManager::goodServers()
{
    QFETCH(QStringList, urls);
    QFETCH(int, count);
    QFETCH(int, quorum);
    LockManager m;
    QSignalSpy changed(&m, &LockManager::serversChanged);
    QVERIFY2(m.setServers(urls), qPrintable(m.errorString()));
    QCOMPARE(m.serverCount(), count);
    QCOMPARE(m.quorum(), quorum);
    QCOMPARE(changed.count(), 1);
    QVERIFY(m.errorString().isEmpty());
    QCOMPARE(m.serverStatus().size(), count);
    // Setting the same set again changes nothing.
    QVERIFY(m.setServers(urls));
    QCOMPARE(changed.count(), 1);
}

void tst_LockManager::badServersKeepPrevious()
{
    LockManager m;
    const QStringList good { QStringLiteral("redis://127.0.0.1:7001"), QStringLiteral("redis://127.0.0.1:7002"),
                             QStringLiteral("redis://127.0.0.1:7003") };
    QVERIFY(m.setServers(good));
    QVERIFY(!m.setServers({ QStringLiteral("redis://127.0.0.1:7001"), QStringLiteral("redis://localhost:7001") }));
    QCOMPARE(m.servers(), good);
    QCOMPARE(m.quorum(), 2);
}

void tst_LockManager::timingSettings()
{
    LockManager m;
    QSignalSpy drift(&m, &LockManager::driftFactorChanged);
    QVERIFY(m.setDriftFactor(0.1));
    QVERIFY(m.setDriftFactor(0.1));
    QCOMPARE(drift.count(), 1);
    QVERIFY(!m.setDriftFactor(0.5));
    QVERIFY(m.errorString().contains(QStringLiteral("drift")));
    QVERIFY(!m.setDriftFactor(-0.01));
    QCOMPARE(m.driftFactor(), 0.1);
    QVERIFY(!m.setServerTimeout(0));
    QVERIFY(m.errorString().contains(QStringLiteral("timeout")));
    QVERIFY(m.setServerTimeout(30));
    QCOMPARE(m.serverTimeout(), 30);
    QVERIFY(!m.setRetryCount(-2));
    QVERIFY(m.setRetryCount(-1));
    QVERIFY(!m.setRetryDelay(-1));
    QVERIFY(!m.setRetryJitter(-1));
    QSignalSpy prefix(&m, &LockManager::keyPrefixChanged);
    m.setKeyPrefix(QStringLiteral("app:"));
    m.setKeyPrefix(QStringLiteral("app:"));
    QCOMPARE(prefix.count(), 1);
}

void tst_LockManager::defaultManagerFromEnvironment()
{
    qputenv("QREDLOCK_SERVERS", "redis://127.0.0.1:7101,redis://127.0.0.1:7102,redis://127.0.0.1:7103");
    LockManager *m = LockManager::defaultManager();
    QVERIFY(m);
    QCOMPARE(m, LockManager::defaultManager());
    QCOMPARE(m->serverCount(), 3);
    QCOMPARE(m->quorum(), 2);
}

void tst_LockManager::chronoSetters()
{
    using namespace std::chrono_literals;
    LockManager m;
    QVERIFY(m.setServerTimeout(2s));
    QCOMPARE(m.serverTimeout(), 2000);
    QVERIFY(m.setRetryDelay(1500ms));
    QCOMPARE(m.retryDelay(), 1500);
    QVERIFY(m.setRetryJitter(std::chrono::milliseconds(50)));
    QCOMPARE(m.retryJitter(), 50);
    // The int versions' own checks apply.
    QVERIFY(!m.setServerTimeout(0ms));
    QCOMPARE(m.serverTimeout(), 2000);
    // Beyond INT_MAX ms: refused, with a warning and errorString(); the setting stays.
    QSignalSpy changed(&m, &LockManager::serverTimeoutChanged);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("setServerTimeout.*refused")));
    QVERIFY(!m.setServerTimeout(std::chrono::hours(24 * 30)));
    QCOMPARE(m.serverTimeout(), 2000);
    QCOMPARE(changed.count(), 0);
    QVERIFY2(m.errorString().contains(QStringLiteral("int range")), qPrintable(m.errorString()));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("setRetryDelay.*refused")));
    QVERIFY(!m.setRetryDelay(std::chrono::milliseconds(qint64(INT_MAX) + 1)));
    QCOMPARE(m.retryDelay(), 1500);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("setRetryJitter.*refused")));
    QVERIFY(!m.setRetryJitter(std::chrono::hours(1000)));
    QCOMPARE(m.retryJitter(), 50);
    QVERIFY(m.setRetryJitter(std::chrono::milliseconds(INT_MAX)));
    QCOMPARE(m.retryJitter(), INT_MAX);

    QRedlock::DistributedLock lock;
    lock.setTtl(10s);
    QCOMPARE(lock.ttl(), 10000);
    lock.setAcquireTimeout(1min);
    QCOMPARE(lock.acquireTimeout(), 60000);
    lock.setAcquireTimeout(-1ms); // "no time bound", as with the int version
    QCOMPARE(lock.acquireTimeout(), -1);
    QSignalSpy ttlChanged(&lock, &QRedlock::DistributedLock::ttlChanged);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("setTtl.*refused")));
    lock.setTtl(std::chrono::hours(1000));
    QCOMPARE(lock.ttl(), 10000);
    QCOMPARE(ttlChanged.count(), 0);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("setAcquireTimeout.*refused")));
    lock.setAcquireTimeout(std::chrono::milliseconds(qint64(INT_MIN) - 1));
    QCOMPARE(lock.acquireTimeout(), -1);
}

QTEST_MAIN(tst_LockManager)
#include "tst_lockmanager.moc"
