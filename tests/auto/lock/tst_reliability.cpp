// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Regression tests for the holes an adversarial pass found (issue 11), against real
// redis-server processes: rolling restarts, one server under two names, reads after the
// validity ran out, errors of earlier calls, ACLs that refuse scripts, swallowed replies and
// TTLs too short to renew.
#include <QRedlock/DistributedLock>
#include <QRedlock/LockManager>

#include "faultproxy.h"
#include "lockhelpers.h"
#include "redisserver.h"

#include <QtCore/QElapsedTimer>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <algorithm>
#include <memory>
#include <vector>

using QRedlock::DistributedLock;
using QRedlock::LockManager;
using QRedlockTest::FaultProxy;
using QRedlockTest::RedisCluster;
using QRedlockTest::RedisServer;
using QRedlockTest::makeLock;
using QRedlockTest::makeManager;
using QRedlockTest::waitAcquired;

namespace {

// A loopback port with nobody listening.
quint16 deadPort()
{
    RedisServer probe;
    if (!probe.start())
        return 0;
    const quint16 port = probe.port();
    probe.kill();
    return port;
}

} // namespace

class tst_Reliability : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void rollingRestart_keepsEveryLock_data();
    void rollingRestart_keepsEveryLock();
    void repair_neverResurrectsALapsedLock();
    void repair_respectsFencingCounters();
    void aliasesOfOneServer_areRefused_data();
    void aliasesOfOneServer_areRefused();
    void isLocked_followsTheDeadline();
    void errors_belongToTheirCall();
    void aclWithoutScripts_failsCleanly();
    void swallowedReplies_lockAgainWithinAReconnect();
    void tinyTtl_isRefusedWithTheMinimum();
};

void tst_Reliability::rollingRestart_keepsEveryLock_data()
{
    QTest::addColumn<int>("locks");
    QTest::addColumn<bool>("fencing");
    QTest::newRow("one lock") << 1 << false;
    QTest::newRow("one fenced lock") << 1 << true;
    QTest::newRow("500 locks") << 500 << false;
}

void tst_Reliability::rollingRestart_keepsEveryLock()
{
    // 3 servers without persistence, TTL 2 s; each server in turn is killed, kept down
    // 2.5 s and restarted empty, so 2 of 3 are up at every moment (regression: the lock
    // expired; with many locks a second restart made every one of them lost()).
    QFETCH(int, locks);
    QFETCH(bool, fencing);
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    auto m = makeManager(cluster.urls());
    std::vector<std::unique_ptr<DistributedLock>> held;
    int ended = 0;
    for (int i = 0; i < locks; ++i) {
        held.push_back(makeLock(m.get(), QStringLiteral("rolling-%1").arg(i), 2000, true));
        held.back()->setFencing(fencing);
        connect(held.back().get(), &DistributedLock::lost, this, [&ended] { ++ended; });
        connect(held.back().get(), &DistributedLock::expired, this, [&ended] { ++ended; });
        held.back()->acquire();
    }
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(held.begin(), held.end(), [](const auto &l) { return l->isLocked(); }),
                             10000);
    const QByteArray firstToken = held.front()->token();

    for (int s = 0; s < 3; ++s) {
        cluster.at(s).kill();
        QTest::qWait(2500);
        QVERIFY2(cluster.at(s).restart(), qPrintable(cluster.at(s).errorString()));
        // Two TTL thirds: every lock had an extension that repaired the restarted server.
        QTest::qWait(1500);
        QCOMPARE(ended, 0);
    }
    for (const auto &l : held)
        QVERIFY(l->isLocked());
    QCOMPARE(held.front()->token(), firstToken);
    // Every server holds our key again, under our token.
    for (int s = 0; s < 3; ++s)
        QCOMPARE(cluster.at(s).command({ "GET", "rolling-0" }).toByteArray(), firstToken);
    if (fencing) {
        for (int s = 0; s < 3; ++s)
            QCOMPARE(cluster.at(s).command({ "GET", "rolling-0:fencing" }).toByteArray(),
                     QByteArray::number(held.front()->fencingToken()));
    }
}

void tst_Reliability::repair_neverResurrectsALapsedLock()
{
    // Two of three servers come back empty between two extensions: our token is confirmed
    // by one server only, so the lock is lost (another client could have taken it in the
    // gap), even though the extension could re-create the keys.
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    auto m = makeManager(cluster.urls());
    auto lock = makeLock(m.get(), QStringLiteral("lapsed"), 1500, true);
    QSignalSpy lost(lock.get(), &DistributedLock::lost);
    lock->acquire();
    QVERIFY(waitAcquired(*lock));
    cluster.at(0).command({ "DEL", "lapsed" });
    cluster.at(1).command({ "DEL", "lapsed" });
    QTRY_COMPARE_WITH_TIMEOUT(lost.count(), 1, 1500);
    QVERIFY(!lock->isLocked());
    // What the round re-created is cleaned up with the loss.
    QTRY_VERIFY_WITH_TIMEOUT(!cluster.at(0).command({ "GET", "lapsed" }).isValid()
                                     && !cluster.at(1).command({ "GET", "lapsed" }).isValid()
                                     && !cluster.at(2).command({ "GET", "lapsed" }).isValid(),
                             1000);

    // The same found by an extension (polling: nothing reports the deletions) says what
    // happened: the keys were gone there, not "repaired" (regression: "0 of 3 servers
    // granted (quorum 2): ... repaired; ... repaired; ... pending").
    auto polling = makeManager(cluster.urls());
    polling->setNotifications(false);
    auto extendedLock = makeLock(polling.get(), QStringLiteral("lapsed-polling"), 1500, true);
    QSignalSpy lostPolling(extendedLock.get(), &DistributedLock::lost);
    extendedLock->acquire();
    QVERIFY(waitAcquired(*extendedLock));
    cluster.at(0).command({ "DEL", "lapsed-polling" });
    cluster.at(1).command({ "DEL", "lapsed-polling" });
    QTRY_COMPARE_WITH_TIMEOUT(lostPolling.count(), 1, 1500);
    const QString why = extendedLock->errorString();
    QVERIFY2(why.count(QStringLiteral("had lost the key")) == 2 && !why.contains(QStringLiteral("repaired")),
             qPrintable(why));

    // A key that belongs to someone else is never overwritten by a repair.
    auto second = makeLock(m.get(), QStringLiteral("owned"), 1500, true);
    QSignalSpy extended(second.get(), &DistributedLock::extended);
    second->acquire();
    QVERIFY(waitAcquired(*second));
    cluster.at(2).command({ "SET", "owned", "someone-else", "PX", "60000" });
    QTRY_VERIFY_WITH_TIMEOUT(extended.count() >= 2, 3000);
    QVERIFY(second->isLocked());
    QCOMPARE(cluster.at(2).command({ "GET", "owned" }).toByteArray(), QByteArray("someone-else"));
}

void tst_Reliability::repair_respectsFencingCounters()
{
    // A server whose fencing counter is above our token (someone later was granted there)
    // is not repaired: the key stays absent and the counter untouched.
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    auto m = makeManager(cluster.urls());
    auto lock = makeLock(m.get(), QStringLiteral("fenced"), 1500, true);
    lock->setFencing(true);
    QSignalSpy extended(lock.get(), &DistributedLock::extended);
    lock->acquire();
    QVERIFY(waitAcquired(*lock));
    const qint64 token = lock->fencingToken();
    QVERIFY(token >= 1);
    // Server 2 came back empty with an older counter: repaired, and its counter raised to ours.
    cluster.at(1).command({ "DEL", "fenced" });
    cluster.at(1).command({ "SET", "fenced:fencing", QByteArray::number(token - 1) });
    QTRY_VERIFY_WITH_TIMEOUT(extended.count() >= 1, 2000);
    QCOMPARE(cluster.at(1).command({ "GET", "fenced" }).toByteArray(), lock->token());
    QCOMPARE(cluster.at(1).command({ "GET", "fenced:fencing" }).toByteArray(), QByteArray::number(token));
    // Server 1 has a counter above our token: left alone; servers 2 and 3 still confirm.
    cluster.at(0).command({ "DEL", "fenced" });
    cluster.at(0).command({ "SET", "fenced:fencing", QByteArray::number(token + 10) });
    const int before = extended.count();
    QTRY_VERIFY_WITH_TIMEOUT(extended.count() > before, 2000);
    QVERIFY(lock->isLocked());
    QVERIFY(!cluster.at(0).command({ "GET", "fenced" }).isValid());
    QCOMPARE(cluster.at(0).command({ "GET", "fenced:fencing" }).toByteArray(), QByteArray::number(token + 10));
}

void tst_Reliability::aliasesOfOneServer_areRefused_data()
{
    QTest::addColumn<QString>("alias"); // %1: the port
    QTest::newRow("0.0.0.0 and another db") << QStringLiteral("redis://0.0.0.0:%1/1");
    QTest::newRow("0.0.0.0") << QStringLiteral("redis://0.0.0.0:%1");
    QTest::newRow("127.0.0.2") << QStringLiteral("redis://127.0.0.2:%1/2");
}

void tst_Reliability::aliasesOfOneServer_areRefused()
{
    // redis://127.0.0.1:P, another name of the same process and a dead third server: the
    // alias would make a quorum of 2 from one process (regression: acquired).
    QFETCH(QString, alias);
    RedisServer server;
    RedisServer::Options options;
    options.extraArgs = { QStringLiteral("--bind"), QStringLiteral("127.0.0.1 127.0.0.2") };
    QVERIFY2(server.start(options), qPrintable(server.errorString()));
    const quint16 dead = deadPort();
    QVERIFY(dead != 0);
    const QString aliasUrl = alias.arg(server.port());
    auto m = makeManager({ server.url(), aliasUrl, QStringLiteral("redis://127.0.0.1:%1").arg(dead) });
    auto lock = makeLock(m.get(), QStringLiteral("alias"), 5000, false);
    lock->tryAcquire();
    QVERIFY(!waitAcquired(*lock));
    QCOMPARE(lock->error(), DistributedLock::Error::InvalidArgument);
    QVERIFY2(lock->errorString().contains(server.url()) && lock->errorString().contains(u"same Redis server"),
             qPrintable(lock->errorString()));
    QVERIFY2(m->errorString().contains(server.url()), qPrintable(m->errorString()));
    // The alias's db and the real one hold nothing of ours.
    QTRY_VERIFY(!server.command({ "GET", "alias" }).isValid());
    // And it stays refused, also for a retrying acquire().
    lock->acquire();
    QVERIFY(!waitAcquired(*lock));
    QCOMPARE(lock->error(), DistributedLock::Error::InvalidArgument);
}

void tst_Reliability::isLocked_followsTheDeadline()
{
    // A slot that blocks the event loop past the validity must not read a held lock
    // (regression: isLocked() true, state() Locked, until expired() one turn later).
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    auto m = makeManager(cluster.urls());
    auto lock = makeLock(m.get(), QStringLiteral("deadline"), m->minimumTtl(), false);
    QSignalSpy expired(lock.get(), &DistributedLock::expired);
    lock->tryAcquire();
    QVERIFY(waitAcquired(*lock));
    const int validity = lock->remainingValidity();
    QElapsedTimer blocked;
    blocked.start();
    while (blocked.elapsed() < validity + 20) { } // no event processing
    QVERIFY(!lock->isLocked());
    QCOMPARE(lock->state(), DistributedLock::State::Unlocked);
    QCOMPARE(lock->remainingValidity(), 0);
    QCOMPARE(expired.count(), 0);
    QTRY_COMPARE(expired.count(), 1); // still delivered
    QVERIFY(!lock->isLocked());
}

void tst_Reliability::errors_belongToTheirCall()
{
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    auto m = makeManager(cluster.urls());
    auto lock = makeLock(m.get(), QStringLiteral("calls"), 1500, true);
    QSignalSpy failed(lock.get(), &DistributedLock::acquireFailed);
    QSignalSpy acquired(lock.get(), &DistributedLock::acquired);
    QList<DistributedLock::State> statesAtFailure;
    connect(lock.get(), &DistributedLock::acquireFailed, this, [&] { statesAtFailure << lock->state(); });
    DistributedLock::Error errorAtAcquired = DistributedLock::Error::Cancelled;
    connect(lock.get(), &DistributedLock::acquired, this, [&] { errorAtAcquired = lock->error(); });

    // acquire(); release(); acquire(); in one turn (regression: acquireFailed arrived while
    // the second was under way, and error() stayed Cancelled through acquired()).
    lock->acquire();
    lock->release();
    lock->acquire();
    QTRY_COMPARE(acquired.count(), 1);
    QTest::qWait(50);
    QCOMPARE(failed.count(), 1);
    QCOMPARE(statesAtFailure, QList<DistributedLock::State> { DistributedLock::State::Unlocked });
    QCOMPARE(errorAtAcquired, DistributedLock::Error::NoError);
    QCOMPARE(lock->error(), DistributedLock::Error::NoError);
    QVERIFY(lock->errorString().isEmpty());

    // A failed renewal (the servers paused) is followed by a good one: NoError again.
    QSignalSpy errors(lock.get(), &DistributedLock::errorOccurred);
    QSignalSpy extended(lock.get(), &DistributedLock::extended);
    for (int s = 0; s < 2; ++s)
        cluster.at(s).pause();
    QTRY_VERIFY_WITH_TIMEOUT(errors.count() >= 1, 2000);
    QVERIFY(lock->error() != DistributedLock::Error::NoError);
    const int before = extended.count();
    for (int s = 0; s < 2; ++s)
        cluster.at(s).resume();
    QTRY_VERIFY_WITH_TIMEOUT(extended.count() > before, 2000);
    QVERIFY(lock->isLocked());
    QCOMPARE(lock->error(), DistributedLock::Error::NoError);

    QSignalSpy released(lock.get(), &DistributedLock::released);
    lock->release();
    QTRY_COMPARE(released.count(), 1);
    QCOMPARE(lock->error(), DistributedLock::Error::NoError);
}

void tst_Reliability::aclWithoutScripts_failsCleanly()
{
    // A user allowed SET but not scripts could acquire and then never extend or release
    // (regression; and a user without EVALSHA read "authentication required: NOPERM...").
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    QStringList urls;
    for (int s = 0; s < 3; ++s) {
        QCOMPARE(cluster.at(s).command({ "ACL", "SETUSER", "noscripts", "on", ">pw", "~*", "&*", "+@all",
                                         "-@scripting" }).toByteArray(),
                 QByteArray("OK"));
        urls << QStringLiteral("redis://noscripts:pw@127.0.0.1:%1").arg(cluster.at(s).port());
    }
    auto m = makeManager(urls);
    auto lock = makeLock(m.get(), QStringLiteral("acl"), 5000, true);
    lock->tryAcquire();
    QVERIFY(!waitAcquired(*lock));
    QCOMPARE(lock->error(), DistributedLock::Error::AuthError);
    QVERIFY2(lock->errorString().contains(u"permission denied for EVALSHA by ACL"), qPrintable(lock->errorString()));
    QVERIFY2(!lock->errorString().contains(u"authentication required"), qPrintable(lock->errorString()));
    QTest::qWait(100);
    for (int s = 0; s < 3; ++s)
        QVERIFY(!cluster.at(s).command({ "GET", "acl" }).isValid()); // nothing was set
}

void tst_Reliability::swallowedReplies_lockAgainWithinAReconnect()
{
    // Proxies swallow every server's replies while locks keep trying; once they pass replies
    // again, a lock is granted within about one reconnect (regression: 12 s and more).
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    std::vector<std::unique_ptr<FaultProxy>> proxies;
    QStringList urls;
    for (int s = 0; s < 3; ++s) {
        proxies.push_back(std::make_unique<FaultProxy>());
        QVERIFY(proxies.back()->start(cluster.at(s).port()));
        urls << proxies.back()->url();
    }
    auto m = makeManager(urls);
    auto warm = makeLock(m.get(), QStringLiteral("warm"), 2000, false);
    warm->tryAcquire();
    QVERIFY(waitAcquired(*warm));
    for (auto &p : proxies)
        p->setBlackhole(FaultProxy::Direction::ServerToClient, true);
    auto lock = makeLock(m.get(), QStringLiteral("swallowed"), 2000, false);
    for (int i = 0; i < 10; ++i) {
        lock->tryAcquire();
        QVERIFY(!waitAcquired(*lock, 2000));
        QTest::qWait(30);
    }
    for (auto &p : proxies)
        p->setBlackhole(FaultProxy::Direction::ServerToClient, false);
    QElapsedTimer sane;
    sane.start();
    bool got = false;
    while (!got && sane.elapsed() < 5000) {
        lock->tryAcquire();
        got = waitAcquired(*lock, 2000);
        if (!got)
            QTest::qWait(20);
    }
    QVERIFY2(got, qPrintable(lock->errorString()));
    QVERIFY2(sane.elapsed() < 1500, qPrintable(QString::number(sane.elapsed())));
}

void tst_Reliability::tinyTtl_isRefusedWithTheMinimum()
{
    RedisCluster cluster;
    QVERIFY2(cluster.start(1), qPrintable(cluster.errorString()));
    auto m = std::make_unique<LockManager>();
    QVERIFY(m->setServers(cluster.urls()));
    QCOMPARE(m->minimumTtl(), 1013); // defaults: server timeout 250 ms, drift 0.01
    auto lock = makeLock(m.get(), QStringLiteral("tiny"), 3, true);
    lock->tryAcquire();
    QVERIFY(!waitAcquired(*lock));
    QCOMPARE(lock->error(), DistributedLock::Error::InvalidArgument);
    QVERIFY2(lock->errorString().contains(u"1013 ms"), qPrintable(lock->errorString()));
    QVERIFY(!cluster.at(0).command({ "GET", "tiny" }).isValid());
    lock->setTtl(1013);
    lock->tryAcquire();
    QVERIFY(waitAcquired(*lock));
}

QTEST_GUILESS_MAIN(tst_Reliability)
#include "tst_reliability.moc"
