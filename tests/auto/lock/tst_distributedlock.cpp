// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// DistributedLock against real redis-server processes: quorum, validity, expiry, loss,
// mutual exclusion, fencing, release, multi-resource locks and bad input.
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

using QRedlock::DistributedLock;
using QRedlock::LockManager;
using QRedlockTest::FaultProxy;
using QRedlockTest::RedisCluster;
using QRedlockTest::RedisServer;
using QRedlockTest::makeManager;
using QRedlockTest::waitAcquired;

namespace {

bool acquireNow(DistributedLock &lock, bool retry = false)
{
    if (retry)
        lock.acquire();
    else
        lock.tryAcquire();
    return waitAcquired(lock);
}

QVariant get(RedisServer &s, const QByteArray &key)
{
    return s.command({ QByteArrayLiteral("GET"), key });
}

} // namespace

class tst_DistributedLock : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();

    void acquireAndRelease();
    void tokenIsRandomAndPrintable();
    void quorum_data();
    void quorum();
    void validityRunsOutDuringAcquisition();
    void expiresOnTime();
    void autoExtendKeepsLock();
    void lostWhenMajorityGone_data();
    void lostWhenMajorityGone();
    void noLostWhenMinorityGone();
    void autoExtendSurvivesMinorityOutage();
    void acquiredSoonAfterLongMajorityOutage();
    void mutualExclusionBetweenManagers();
    void foreignClientExcludes();
    void acquireRetriesUntilFree();
    void acquireTimeoutGivesUp();
    void fencingTokensIncrease();
    void releaseAfterExpiryKeepsOtherHolder();
    void releaseIsIdempotent();
    void destroyingHeldLockReleases();
    void releaseCancelsAcquisition();
    void multiResource();
    void keyPrefixAndWireFormat();
    void badInput_data();
    void badInput();
    void authFailureIsReported();
    void serverOutcomesDescribeRound();
    void managerDestroyedWhileAcquiring();
    void managerDestroyedFirst_releasesKeysAtOnce();
    void subclassTimerEvent_doesNotStopExpiry();
    void remainingValidityChanged_rate_data();
    void remainingValidityChanged_rate();
    void remainingValidityChanged_stopsAfterRelease();
    void remainingValidityChanged_stopsAfterExpiry();
    void remainingValidityChanged_connectWhileLocked();
    void remainingValidityChanged_followsExtension();

private:
    RedisCluster m_cluster;
};

void tst_DistributedLock::initTestCase()
{
    QVERIFY2(m_cluster.start(3), qPrintable(m_cluster.errorString()));
}

void tst_DistributedLock::init()
{
    for (int i = 0; i < m_cluster.size(); ++i)
        m_cluster.at(i).command({ QByteArrayLiteral("FLUSHALL") });
}

void tst_DistributedLock::acquireAndRelease()
{
    auto m = makeManager(m_cluster.urls());
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("basic"));
    lock.setTtl(5000);
    QSignalSpy state(&lock, &DistributedLock::stateChanged);
    QSignalSpy released(&lock, &DistributedLock::released);

    lock.tryAcquire();
    QCOMPARE(lock.state(), DistributedLock::State::Acquiring); // never completes synchronously
    QVERIFY(waitAcquired(lock));
    QVERIFY(lock.isLocked());
    QCOMPARE(lock.error(), DistributedLock::Error::NoError);
    QVERIFY(lock.remainingValidity() > 4800 && lock.remainingValidity() <= 5000);
    // Granted at quorum: the third server's SET may still be on its way on a busy machine.
    for (int i = 0; i < 3; ++i)
        QTRY_COMPARE_WITH_TIMEOUT(get(m_cluster.at(i), "basic").toByteArray(), lock.token(), 2000);
    const QVariant pttl = m_cluster.at(0).command({ QByteArrayLiteral("PTTL"), QByteArrayLiteral("basic") });
    QVERIFY(pttl.toLongLong() > 4000 && pttl.toLongLong() <= 5000);

    lock.release();
    QCOMPARE(lock.state(), DistributedLock::State::Releasing);
    QTRY_COMPARE(released.count(), 1);
    QCOMPARE(lock.state(), DistributedLock::State::Unlocked);
    QCOMPARE(lock.remainingValidity(), 0);
    for (int i = 0; i < 3; ++i)
        QVERIFY(!get(m_cluster.at(i), "basic").isValid());
    QVERIFY(state.count() >= 4); // Acquiring, Locked, Releasing, Unlocked
}

void tst_DistributedLock::tokenIsRandomAndPrintable()
{
    auto m = makeManager(m_cluster.urls());
    QSet<QByteArray> seen;
    for (int i = 0; i < 20; ++i) {
        DistributedLock lock;
        lock.setManager(m.get());
        lock.setResource(QStringLiteral("token"));
        QVERIFY(acquireNow(lock));
        const QByteArray t = lock.token();
        QVERIFY(t.size() >= 40 && t.size() <= 255); // 20 random bytes in hex, then the holder's identity
        for (int k = 0; k < 40; ++k)
            QVERIFY((t.at(k) >= '0' && t.at(k) <= '9') || (t.at(k) >= 'a' && t.at(k) <= 'f'));
        for (char c : t)
            QVERIFY(c > 0x20 && c < 0x7f); // printable, no whitespace
        QVERIFY(!seen.contains(t));
        seen.insert(t);
        QSignalSpy released(&lock, &DistributedLock::released);
        lock.release();
        QTRY_COMPARE(released.count(), 1);
    }
}

void tst_DistributedLock::quorum_data()
{
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("killed");
    QTest::addColumn<int>("paused");
    QTest::addColumn<int>("foreign");

    const int sizes[] = { 1, 3, 5, 7 };
    for (int n : sizes) {
        for (int bad = 0; bad <= n; ++bad) {
            if (n == 7 && bad > 5)
                continue; // enough rows
            // Spread the unavailable servers over the three kinds of trouble.
            const int killed = bad / 3 + (bad % 3 > 0 ? 1 : 0);
            const int paused = bad / 3 + (bad % 3 > 1 ? 1 : 0);
            const int foreign = bad - killed - paused;
            QTest::addRow("N=%d killed=%d paused=%d foreign=%d", n, killed, paused, foreign)
                    << n << killed << paused << foreign;
            if (bad > 0 && n > 1) {
                QTest::addRow("N=%d foreign=%d", n, bad) << n << 0 << 0 << bad;
                QTest::addRow("N=%d paused=%d", n, bad) << n << 0 << bad << 0;
            }
        }
    }
}

void tst_DistributedLock::quorum()
{
    QFETCH(int, n);
    QFETCH(int, killed);
    QFETCH(int, paused);
    QFETCH(int, foreign);

    RedisCluster cluster;
    QVERIFY2(cluster.start(n), qPrintable(cluster.errorString()));
    int i = 0;
    for (int k = 0; k < killed; ++k)
        cluster.at(i++).kill();
    for (int k = 0; k < paused; ++k)
        cluster.at(i++).pause();
    for (int k = 0; k < foreign; ++k)
        QCOMPARE(cluster.at(i++).command({ "SET", "q", "someone-else", "PX", "60000" }).toByteArray(),
                 QByteArray("OK"));

    const int serverTimeout = 150;
    auto m = makeManager(cluster.urls(), serverTimeout);
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("q"));
    lock.setTtl(10000);

    const bool expected = n - killed - paused - foreign >= n / 2 + 1;
    QElapsedTimer t;
    t.start();
    lock.tryAcquire();
    const bool got = waitAcquired(lock);
    const qint64 elapsed = t.elapsed();
    QCOMPARE(got, expected);
    QCOMPARE(lock.isLocked(), expected);
    // A paused server costs at most the per-server timeout (plus scheduling slack).
    QVERIFY2(elapsed < serverTimeout + 250, qPrintable(QString::number(elapsed)));
    if (!expected) {
        QVERIFY(lock.error() != DistributedLock::Error::NoError);
        QVERIFY(!lock.errorString().isEmpty());
        // "Held elsewhere" only when a quorum answered: a refusal beside an outage of the
        // others is an outage (a script takes that for "someone else runs the job").
        if (foreign > 0 && n - killed - paused >= n / 2 + 1)
            QCOMPARE(lock.error(), DistributedLock::Error::Conflict);
        else
            QCOMPARE(lock.error(), DistributedLock::Error::NoQuorum);
    }
    // Free, reachable servers never keep a key of a failed attempt.
    QTest::qWait(50);
    for (int k = killed + paused + foreign; k < n; ++k) {
        const QVariant v = get(cluster.at(k), "q");
        if (expected)
            QCOMPARE(v.toByteArray(), lock.token());
        else
            QVERIFY2(!v.isValid(), qPrintable(v.toString()));
    }
    for (int k = killed; k < killed + paused; ++k)
        cluster.at(k).resume();
}

void tst_DistributedLock::validityRunsOutDuringAcquisition()
{
    // The grants arrive in time, but the process stalls (a blocked event loop, a pause)
    // before it reads them: when it does, the validity is gone, so they count for nothing.
    auto m = makeManager(m_cluster.urls(), 100);
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("slow"));
    lock.setTtl(m->minimumTtl());
    QVERIFY(acquireNow(lock)); // connected and handshaken: the requests leave at once
    QSignalSpy released(&lock, &DistributedLock::released);
    lock.release();
    QTRY_COMPARE(released.count(), 1);
    lock.tryAcquire();
    QElapsedTimer blocked;
    blocked.start();
    while (blocked.elapsed() < m->minimumTtl() + 50) { } // no event processing
    QVERIFY(!waitAcquired(lock));
    QCOMPARE(lock.error(), DistributedLock::Error::Timeout);
    QVERIFY2(lock.errorString().contains(QStringLiteral("validity")), qPrintable(lock.errorString()));
    // The keys that were granted too late are cleaned up (or expired): none is left.
    QTRY_VERIFY_WITH_TIMEOUT(!get(m_cluster.at(0), "slow").isValid() && !get(m_cluster.at(1), "slow").isValid()
                                     && !get(m_cluster.at(2), "slow").isValid(),
                             2000);

    // Servers that answer after 150 ms: granted, with validity reduced by the delay.
    std::vector<std::unique_ptr<FaultProxy>> proxies;
    QStringList urls;
    for (int i = 0; i < 3; ++i) {
        auto p = std::make_unique<FaultProxy>();
        QVERIFY(p->start(m_cluster.at(i).port()));
        p->setDelay(FaultProxy::Direction::ServerToClient, 150);
        urls << p->url();
        proxies.push_back(std::move(p));
    }
    auto delayed = makeManager(urls, 500);
    DistributedLock slow;
    slow.setManager(delayed.get());
    slow.setResource(QStringLiteral("slow"));
    slow.setTtl(3000);
    QVERIFY(acquireNow(slow));
    QVERIFY2(slow.remainingValidity() < 3000 - 150, qPrintable(QString::number(slow.remainingValidity())));
}

void tst_DistributedLock::expiresOnTime()
{
    auto m = makeManager(m_cluster.urls());
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("expiry"));
    lock.setTtl(500);
    QSignalSpy expired(&lock, &DistributedLock::expired);
    QSignalSpy lost(&lock, &DistributedLock::lost);
    QVERIFY(acquireNow(lock));
    QElapsedTimer t;
    t.start();
    const int validity = lock.remainingValidity();
    // ttl - drift margin (500 * 0.01 + 2 = 7 ms) - elapsed acquisition time
    QVERIFY2(validity > 450 && validity <= 493, qPrintable(QString::number(validity)));
    qint64 at = -1;
    connect(&lock, &DistributedLock::expired, this, [&] { at = t.elapsed(); });
    QTRY_COMPARE_WITH_TIMEOUT(expired.count(), 1, 2000);
    QVERIFY2(at >= validity - 2 && at <= validity + 15,
             qPrintable(QStringLiteral("expired after %1 ms, validity was %2 ms").arg(at).arg(validity)));
    QCOMPARE(lost.count(), 0);
    QVERIFY(!lock.isLocked());
    QCOMPARE(lock.state(), DistributedLock::State::Unlocked);
    // No extension can bring it back.
    QSignalSpy errors(&lock, &DistributedLock::errorOccurred);
    lock.extend();
    QTRY_COMPARE(errors.count(), 1);
    QVERIFY(!lock.isLocked());
}

void tst_DistributedLock::autoExtendKeepsLock()
{
    auto m = makeManager(m_cluster.urls());
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("extend"));
    lock.setTtl(500);
    lock.setAutoExtend(true);
    QSignalSpy extended(&lock, &DistributedLock::extended);
    QSignalSpy expired(&lock, &DistributedLock::expired);
    QSignalSpy lost(&lock, &DistributedLock::lost);
    QVERIFY(acquireNow(lock));
    QTest::qWait(2000); // four TTLs
    QVERIFY(lock.isLocked());
    QVERIFY2(extended.count() >= 4, qPrintable(QString::number(extended.count())));
    QCOMPARE(expired.count(), 0);
    QCOMPARE(lost.count(), 0);
    const QVariant pttl = m_cluster.at(1).command({ QByteArrayLiteral("PTTL"), QByteArrayLiteral("extend") });
    QVERIFY(pttl.toLongLong() > 0);
}

void tst_DistributedLock::lostWhenMajorityGone_data()
{
    QTest::addColumn<bool>("overwrite");
    QTest::newRow("deleted") << false;
    QTest::newRow("overwritten") << true;
}

void tst_DistributedLock::lostWhenMajorityGone()
{
    QFETCH(bool, overwrite);
    auto m = makeManager(m_cluster.urls());
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("lose"));
    lock.setTtl(600);
    lock.setAutoExtend(true);
    QSignalSpy lost(&lock, &DistributedLock::lost);
    QSignalSpy expired(&lock, &DistributedLock::expired);
    QVERIFY(acquireNow(lock));
    for (int i = 0; i < 2; ++i) {
        if (overwrite)
            m_cluster.at(i).command({ "SET", "lose", "intruder", "PX", "60000" });
        else
            m_cluster.at(i).command({ "DEL", "lose" });
    }
    // The next extension (at a third of the TTL) finds the loss.
    QTRY_COMPARE_WITH_TIMEOUT(lost.count(), 1, 1000);
    QCOMPARE(expired.count(), 0);
    QVERIFY(!lock.isLocked());
    QCOMPARE(lock.remainingValidity(), 0);
    // Never re-created, and another holder's key stays.
    QTest::qWait(50);
    if (overwrite) {
        QCOMPARE(get(m_cluster.at(0), "lose").toByteArray(), QByteArray("intruder"));
        QCOMPARE(get(m_cluster.at(1), "lose").toByteArray(), QByteArray("intruder"));
    } else {
        QVERIFY(!get(m_cluster.at(0), "lose").isValid());
        QVERIFY(!get(m_cluster.at(1), "lose").isValid());
    }
    QVERIFY(!get(m_cluster.at(2), "lose").isValid()); // our own remaining key was cleaned up
}

void tst_DistributedLock::noLostWhenMinorityGone()
{
    auto m = makeManager(m_cluster.urls());
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("minority"));
    lock.setTtl(600);
    lock.setAutoExtend(true);
    QSignalSpy lost(&lock, &DistributedLock::lost);
    QSignalSpy extended(&lock, &DistributedLock::extended);
    QVERIFY(acquireNow(lock));
    m_cluster.at(0).command({ "DEL", "minority" });
    QTest::qWait(900);
    QCOMPARE(lost.count(), 0);
    QVERIFY(extended.count() >= 2);
    QVERIFY(lock.isLocked());
    // The next extension re-created the deleted key with our token (quorum repair), beside
    // the two servers that confirmed it.
    QCOMPARE(get(m_cluster.at(0), "minority").toByteArray(), lock.token());
}

void tst_DistributedLock::autoExtendSurvivesMinorityOutage()
{
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    auto m = makeManager(cluster.urls(), 80);
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("outage"));
    lock.setTtl(600);
    lock.setAutoExtend(true);
    QSignalSpy lost(&lock, &DistributedLock::lost);
    QSignalSpy expired(&lock, &DistributedLock::expired);
    QSignalSpy extended(&lock, &DistributedLock::extended);
    QVERIFY(acquireNow(lock));
    // One server at a time, each outage shorter than the TTL so the others keep the key:
    // a paused server (its replies time out), then a killed one (fails fast) that
    // comes back empty (and refuses: our key is not re-created there).
    cluster.at(2).pause();
    QTest::qWait(400);
    cluster.at(2).resume();
    QTest::qWait(400);
    cluster.at(1).kill();
    QTest::qWait(700);
    QVERIFY(cluster.at(1).restart());
    QTest::qWait(600);
    QCOMPARE(lost.count(), 0);
    QCOMPARE(expired.count(), 0);
    QVERIFY(lock.isLocked());
    QVERIFY(extended.count() >= 5);
}

void tst_DistributedLock::acquiredSoonAfterLongMajorityOutage()
{
    // A majority is down for 4.5 s, long enough for the reconnect backoff to reach its 2 s
    // cap, while a lock keeps asking. Once the servers are back, the lock must be taken
    // within about one retry delay plus one server timeout, not a backoff later.
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    auto m = makeManager(cluster.urls());
    m->setRetryCount(-1);
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("long-outage"));
    lock.setTtl(500);
    lock.setAcquireTimeout(20000);
    QVERIFY(acquireNow(lock)); // the connections are up
    lock.release();
    QTRY_COMPARE(lock.state(), DistributedLock::State::Unlocked);

    cluster.at(0).kill();
    cluster.at(1).kill();
    QElapsedTimer sinceBack;
    qint64 tookMs = -1;
    connect(&lock, &DistributedLock::acquired, this, [&] { tookMs = sinceBack.elapsed(); });
    lock.acquire();
    QTest::qWait(4500);
    QCOMPARE(tookMs, -1);
    QVERIFY2(cluster.at(0).restart(), qPrintable(cluster.at(0).errorString())); // a majority again
    sinceBack.start();
    QTRY_VERIFY_WITH_TIMEOUT(tookMs >= 0, 5000);
    // Retry delay 20 +/- 10 ms, server timeout 100 ms, 250 ms for a loaded machine; the
    // backoff alone would have waited 1-2 s.
    QVERIFY2(tookMs < 130 + 250, qPrintable(QString::number(tookMs)));
}

void tst_DistributedLock::mutualExclusionBetweenManagers()
{
    auto m1 = makeManager(m_cluster.urls());
    auto m2 = makeManager({ m_cluster.at(2).url(), m_cluster.at(0).url(), m_cluster.at(1).url() });
    DistributedLock a;
    a.setManager(m1.get());
    a.setResource(QStringLiteral("mutex"));
    a.setTtl(5000);
    DistributedLock b;
    b.setManager(m2.get());
    b.setResource(QStringLiteral("mutex"));
    b.setTtl(5000);

    // Start both in the same turn: exactly one wins.
    a.tryAcquire();
    b.tryAcquire();
    QTRY_VERIFY(a.state() != DistributedLock::State::Acquiring && b.state() != DistributedLock::State::Acquiring);
    QVERIFY(a.isLocked() != b.isLocked());
    DistributedLock &winner = a.isLocked() ? a : b;
    DistributedLock &loser = a.isLocked() ? b : a;
    QCOMPARE(loser.error(), DistributedLock::Error::Conflict);

    QSignalSpy released(&winner, &DistributedLock::released);
    winner.release();
    QTRY_COMPARE(released.count(), 1);
    QVERIFY(acquireNow(loser));
    QVERIFY(!acquireNow(winner));
}

void tst_DistributedLock::foreignClientExcludes()
{
    // Another Redlock client (any language) stores a random value with SET NX PX.
    for (int i = 0; i < 3; ++i)
        m_cluster.at(i).command({ "SET", "shared-job", "other-client-value", "NX", "PX", "1500" });
    auto m = makeManager(m_cluster.urls());
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("shared-job"));
    lock.setTtl(2000);
    QVERIFY(!acquireNow(lock));
    QCOMPARE(lock.error(), DistributedLock::Error::Conflict);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(get(m_cluster.at(i), "shared-job").toByteArray(), QByteArray("other-client-value"));
    // And the other way round: while we hold it, their SET NX fails.
    for (int i = 0; i < 3; ++i)
        m_cluster.at(i).command({ "DEL", "shared-job" });
    QVERIFY(acquireNow(lock));
    for (int i = 0; i < 3; ++i)
        QVERIFY(!m_cluster.at(i).command({ "SET", "shared-job", "x", "NX", "PX", "1000" }).isValid());
}

void tst_DistributedLock::acquireRetriesUntilFree()
{
    auto m = makeManager(m_cluster.urls());
    for (int i = 0; i < 3; ++i)
        m_cluster.at(i).command({ "SET", "retry", "someone", "PX", "300" });
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("retry"));
    lock.setAcquireTimeout(3000);
    QElapsedTimer t;
    t.start();
    QVERIFY(acquireNow(lock, true));
    QVERIFY2(t.elapsed() >= 250, qPrintable(QString::number(t.elapsed())));
}

void tst_DistributedLock::acquireTimeoutGivesUp()
{
    auto m = makeManager(m_cluster.urls());
    for (int i = 0; i < 3; ++i)
        m_cluster.at(i).command({ "SET", "busy", "someone", "PX", "10000" });
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("busy"));
    lock.setAcquireTimeout(400);
    QElapsedTimer t;
    t.start();
    QVERIFY(!acquireNow(lock, true));
    // Tries until the deadline: the last attempt goes out at 400 ms, not a pause before it.
    QVERIFY2(t.elapsed() >= 400 && t.elapsed() < 1000, qPrintable(QString::number(t.elapsed())));
    QCOMPARE(lock.error(), DistributedLock::Error::Conflict);
    QVERIFY2(lock.errorString().contains(QStringLiteral("attempts")), qPrintable(lock.errorString()));

    // retryCount bounds acquire() when no timeout is set: polling, 1 + 3 attempts.
    m->setRetryCount(3);
    lock.setAcquireTimeout(-1);
    m->setNotifications(false);
    QVERIFY(!acquireNow(lock, true));
    QVERIFY2(lock.errorString().contains(QStringLiteral("4 attempts")), qPrintable(lock.errorString()));
    // A pushed waiter is charged in time (wake-ups are free): it gives up when polling would
    // have made its last attempt, 3 retry delays after it began, whatever it was woken for.
    m->setNotifications(true);
    t.restart();
    QVERIFY(!acquireNow(lock, true));
    QVERIFY2(t.elapsed() >= 3 * m->retryDelay(), qPrintable(QString::number(t.elapsed())));
    QCOMPARE(lock.error(), DistributedLock::Error::Conflict);
}

void tst_DistributedLock::fencingTokensIncrease()
{
    auto m1 = makeManager(m_cluster.urls());
    auto m2 = makeManager(m_cluster.urls());
    DistributedLock a;
    a.setManager(m1.get());
    DistributedLock b;
    b.setManager(m2.get());
    for (DistributedLock *l : { &a, &b }) {
        l->setResource(QStringLiteral("fenced"));
        l->setFencing(true);
        l->setTtl(5000);
    }
    qint64 last = 0;
    for (int i = 0; i < 1000; ++i) {
        DistributedLock &l = i % 2 ? b : a;
        if (i == 500) // a minority forgets nothing relevant: one server loses its counter
            m_cluster.at(i % 3).command({ "DEL", "fenced:fencing" });
        QVERIFY2(acquireNow(l), qPrintable(l.errorString()));
        QVERIFY2(l.fencingToken() > last,
                 qPrintable(QStringLiteral("token %1 after %2 at %3").arg(l.fencingToken()).arg(last).arg(i)));
        last = l.fencingToken();
        QSignalSpy released(&l, &DistributedLock::released);
        l.release();
        QTRY_COMPARE(released.count(), 1);
    }
    QVERIFY(last >= 1000);
}

void tst_DistributedLock::releaseAfterExpiryKeepsOtherHolder()
{
    auto m = makeManager(m_cluster.urls());
    DistributedLock first;
    first.setManager(m.get());
    first.setResource(QStringLiteral("handover"));
    first.setTtl(500);
    QSignalSpy expired(&first, &DistributedLock::expired);
    QVERIFY(acquireNow(first));
    QTRY_COMPARE(expired.count(), 1);
    QTest::qWait(20); // the keys themselves expire a drift margin later

    DistributedLock second;
    second.setManager(m.get());
    second.setResource(QStringLiteral("handover"));
    second.setTtl(5000);
    QVERIFY(acquireNow(second));
    for (int i = 0; i < 3; ++i) // all three, not only the quorum that granted it
        QTRY_COMPARE_WITH_TIMEOUT(get(m_cluster.at(i), "handover").toByteArray(), second.token(), 2000);
    first.release(); // nothing to release: must not touch second's keys
    QTest::qWait(50);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(get(m_cluster.at(i), "handover").toByteArray(), second.token());
}

void tst_DistributedLock::releaseIsIdempotent()
{
    auto m = makeManager(m_cluster.urls());
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("idem"));
    QSignalSpy released(&lock, &DistributedLock::released);
    lock.release(); // not held: nothing happens
    QVERIFY(acquireNow(lock));
    lock.release();
    lock.release();
    QTRY_COMPARE(released.count(), 1);
    lock.release();
    QTest::qWait(50);
    QCOMPARE(released.count(), 1);
}

void tst_DistributedLock::destroyingHeldLockReleases()
{
    auto m = makeManager(m_cluster.urls());
    {
        DistributedLock lock;
        lock.setManager(m.get());
        lock.setResource(QStringLiteral("scoped"));
        QVERIFY(acquireNow(lock));
        QVERIFY(get(m_cluster.at(0), "scoped").isValid());
    }
    QTRY_VERIFY(!get(m_cluster.at(0), "scoped").isValid() && !get(m_cluster.at(1), "scoped").isValid()
                && !get(m_cluster.at(2), "scoped").isValid());
}

void tst_DistributedLock::releaseCancelsAcquisition()
{
    auto m = makeManager(m_cluster.urls());
    for (int i = 0; i < 3; ++i)
        m_cluster.at(i).command({ "SET", "cancel", "someone", "PX", "10000" });
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("cancel"));
    lock.setAcquireTimeout(5000);
    QSignalSpy failed(&lock, &DistributedLock::acquireFailed);
    QSignalSpy acquired(&lock, &DistributedLock::acquired);
    lock.acquire();
    QTest::qWait(100);
    QCOMPARE(lock.state(), DistributedLock::State::Acquiring);
    lock.release();
    QCOMPARE(lock.state(), DistributedLock::State::Unlocked);
    // Reported by release() itself, for the acquisition it ends: an acquire() right after it
    // starts afresh and is never answered by this cancellation.
    QCOMPARE(failed.count(), 1);
    QCOMPARE(lock.error(), DistributedLock::Error::Cancelled);
    for (int i = 0; i < 3; ++i)
        m_cluster.at(i).command({ "DEL", "cancel" });
    QTest::qWait(300);
    QCOMPARE(acquired.count(), 0);
    QVERIFY(!get(m_cluster.at(0), "cancel").isValid());
}

void tst_DistributedLock::multiResource()
{
    auto m = makeManager(m_cluster.urls());
    DistributedLock ab;
    ab.setManager(m.get());
    ab.setResources({ QStringLiteral("a"), QStringLiteral("b") });
    DistributedLock bc;
    bc.setManager(m.get());
    bc.setResources({ QStringLiteral("b"), QStringLiteral("c") });
    DistributedLock cd;
    cd.setManager(m.get());
    cd.setResources({ QStringLiteral("c"), QStringLiteral("d") });
    QCOMPARE(ab.resource(), QStringLiteral("a"));

    QVERIFY(acquireNow(ab));
    QVERIFY(!acquireNow(bc)); // overlaps on b
    QCOMPARE(bc.error(), DistributedLock::Error::Conflict);
    // All or nothing: bc's failed attempt did not leave c behind.
    QVERIFY(!get(m_cluster.at(0), "c").isValid());
    QVERIFY(acquireNow(cd)); // disjoint from ab
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(get(m_cluster.at(i), "a").toByteArray(), ab.token());
        QCOMPARE(get(m_cluster.at(i), "b").toByteArray(), ab.token());
        QCOMPARE(get(m_cluster.at(i), "d").toByteArray(), cd.token());
    }
    // Extending and releasing a multi-resource lock covers every key.
    QSignalSpy extended(&ab, &DistributedLock::extended);
    ab.extend();
    QTRY_COMPARE(extended.count(), 1);
    QSignalSpy released(&ab, &DistributedLock::released);
    ab.release();
    QTRY_COMPARE(released.count(), 1);
    QVERIFY(!get(m_cluster.at(1), "a").isValid());
    QVERIFY(!get(m_cluster.at(1), "b").isValid());
    QVERIFY(acquireNow(bc) == false); // c is still cd's
    QSignalSpy cdReleased(&cd, &DistributedLock::released);
    cd.release();
    QTRY_COMPARE(cdReleased.count(), 1);
    QVERIFY(acquireNow(bc));
}

void tst_DistributedLock::keyPrefixAndWireFormat()
{
    auto m = makeManager(m_cluster.urls());
    m->setKeyPrefix(QStringLiteral("locks:"));
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("report"));
    lock.setTtl(7000);
    QVERIFY(acquireNow(lock));
    // Granted at quorum: the last server's answer may still be on its way (CI saw its key
    // absent when it was read right after acquired()). Every server has answered first.
    const auto allAnswered = [&lock] {
        const QList<DistributedLock::ServerOutcome> outcomes = lock.serverOutcomes();
        return std::none_of(outcomes.cbegin(), outcomes.cend(), [](const DistributedLock::ServerOutcome &o) {
            return o.result == DistributedLock::ServerResult::Pending;
        });
    };
    QTRY_VERIFY(allAnswered());
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(get(m_cluster.at(i), "locks:report").toByteArray(), lock.token());
        QCOMPARE(m_cluster.at(i).command({ "TYPE", "locks:report" }).toByteArray(), QByteArray("string"));
    }
    QVERIFY(!get(m_cluster.at(0), "report").isValid());
}

void tst_DistributedLock::badInput_data()
{
    QTest::addColumn<QString>("resource");
    QTest::addColumn<int>("ttl");
    QTest::addColumn<bool>("withServers");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty resource") << QString() << 1000 << true << QStringLiteral("resource");
    QTest::newRow("zero ttl") << QStringLiteral("r") << 0 << true << QStringLiteral("TTL");
    QTest::newRow("negative ttl") << QStringLiteral("r") << -5 << true << QStringLiteral("TTL");
    QTest::newRow("ttl below drift") << QStringLiteral("r") << 2 << true << QStringLiteral("too short");
    QTest::newRow("no servers") << QStringLiteral("r") << 1000 << false << QStringLiteral("no servers");
}

void tst_DistributedLock::badInput()
{
    QFETCH(QString, resource);
    QFETCH(int, ttl);
    QFETCH(bool, withServers);
    QFETCH(QString, message);
    LockManager m;
    if (withServers)
        QVERIFY(m.setServers(m_cluster.urls()));
    DistributedLock lock;
    lock.setManager(&m);
    if (!resource.isEmpty())
        lock.setResource(resource);
    lock.setTtl(ttl);
    QSignalSpy errors(&lock, &DistributedLock::errorOccurred);
    QSignalSpy failed(&lock, &DistributedLock::acquireFailed);
    lock.tryAcquire();
    QCOMPARE(errors.count(), 0); // asynchronous, also for bad input
    QTRY_COMPARE(errors.count(), 1);
    QCOMPARE(failed.count(), 1);
    QCOMPARE(errors.at(0).at(0).value<DistributedLock::Error>(), DistributedLock::Error::InvalidArgument);
    QCOMPARE(lock.error(), DistributedLock::Error::InvalidArgument);
    QVERIFY2(lock.errorString().contains(message, Qt::CaseInsensitive), qPrintable(lock.errorString()));
    QCOMPARE(lock.state(), DistributedLock::State::Unlocked);
}

void tst_DistributedLock::authFailureIsReported()
{
    RedisServer::Options options;
    options.password = QStringLiteral("right-password");
    RedisCluster secured;
    QVERIFY2(secured.start(3, options), qPrintable(secured.errorString()));
    QStringList wrong;
    for (int i = 0; i < 3; ++i)
        wrong << QStringLiteral("redis://:wrong-password@127.0.0.1:%1").arg(secured.at(i).port());
    auto m = makeManager(wrong, 300);
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("auth"));
    QVERIFY(!acquireNow(lock));
    QCOMPARE(lock.error(), DistributedLock::Error::AuthError);
    QVERIFY2(lock.errorString().contains(QStringLiteral("auth"), Qt::CaseInsensitive), qPrintable(lock.errorString()));
    QVERIFY(!lock.errorString().contains(QStringLiteral("wrong-password")));

    // Right password on two servers out of three: a quorum, the third counts as failed.
    QStringList mixed = secured.urls();
    mixed[2] = wrong[2];
    auto m2 = makeManager(mixed, 300);
    DistributedLock lock2;
    lock2.setManager(m2.get());
    lock2.setResource(QStringLiteral("auth"));
    QVERIFY(acquireNow(lock2));
}

void tst_DistributedLock::serverOutcomesDescribeRound()
{
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    cluster.at(1).command({ "SET", "diag", "someone", "PX", "10000" });
    cluster.at(2).pause();
    auto m = makeManager(cluster.urls(), 100);
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("diag"));
    QVERIFY(!acquireNow(lock));
    const auto outcomes = lock.serverOutcomes();
    QCOMPARE(outcomes.size(), 3);
    using R = DistributedLock::ServerOutcome::Result;
    QCOMPARE(outcomes.at(0).result, R::Granted);
    QCOMPARE(outcomes.at(1).result, R::Refused);
    QCOMPARE(outcomes.at(2).result, R::Timeout); // one granted, one refused: decided by the third
    QVERIFY(outcomes.at(0).latencyMs >= 0);
    QVERIFY(outcomes.at(2).latencyMs >= 100);
    QVERIFY(outcomes.at(0).server.contains(QString::number(cluster.at(0).port())));

    // Two refusals decide at once (the cleanup leaves then), but the outcome of a last
    // attempt is reported once the paused server timed out too, so that it says what every
    // server said; late answers are announced through serverStatusChanged().
    cluster.at(0).command({ "SET", "diag", "someone", "PX", "10000" });
    QSignalSpy statusChanged(&lock, &DistributedLock::serverStatusChanged);
    QVERIFY(!acquireNow(lock));
    QCOMPARE(lock.serverOutcomes().at(2).result, R::Timeout);
    QCOMPARE(lock.error(), DistributedLock::Error::Conflict);
    QVERIFY(statusChanged.count() >= 2); // the decision, then the late answer
    const QVariantList status = lock.serverStatus();
    QCOMPARE(status.size(), 3);
    QCOMPARE(status.at(1).toMap().value(QStringLiteral("result")).toString(), QStringLiteral("refused"));
    cluster.at(2).resume();
}

void tst_DistributedLock::managerDestroyedFirst_releasesKeysAtOnce()
{
    const auto setUp = [](DistributedLock &lock, LockManager *manager, const char *resource) {
        lock.setManager(manager);
        lock.setResource(QString::fromLatin1(resource));
        lock.setTtl(30000);
    };
    const auto goneEverywhere = [this](const char *key) {
        for (int i = 0; i < m_cluster.size(); ++i) {
            if (get(m_cluster.at(i), key).isValid())
                return false;
        }
        return true;
    };

    // A C++ application that destroys the manager before its locks (regression: the keys
    // stayed held for a whole TTL; only the QML module released them).
    auto m = makeManager(m_cluster.urls());
    DistributedLock lock;
    setUp(lock, m.get(), "first");
    QVERIFY(acquireNow(lock));
    QSignalSpy released(&lock, &DistributedLock::released);
    m.reset();
    QCOMPARE(released.count(), 1);
    QVERIFY(!lock.isLocked());
    QTRY_VERIFY_WITH_TIMEOUT(goneEverywhere("first"), 1000);

    // A lock that moved to another manager is not released by the first one's end.
    auto a = makeManager(m_cluster.urls());
    auto b = makeManager(m_cluster.urls());
    DistributedLock moved;
    setUp(moved, a.get(), "moved");
    QVERIFY(acquireNow(moved));
    QSignalSpy movedReleased(&moved, &DistributedLock::released);
    moved.release();
    QTRY_COMPARE(movedReleased.count(), 1);
    moved.setManager(b.get());
    QVERIFY(acquireNow(moved));
    a.reset();
    QTest::qWait(100);
    QVERIFY(moved.isLocked());
    QCOMPARE(get(m_cluster.at(0), "moved").toByteArray(), moved.token());

    // A lock once left to expire (releaseAfter()) and acquired again is released by the
    // manager's end like any other (regression: releaseAfter() had dropped it from the
    // manager's list for good, and the second holding stayed on the servers for its TTL).
    auto c = makeManager(m_cluster.urls());
    DistributedLock again;
    setUp(again, c.get(), "again");
    QVERIFY(acquireNow(again));
    QSignalSpy againExpired(&again, &DistributedLock::expired);
    again.releaseAfter(100);
    QTRY_COMPARE_WITH_TIMEOUT(againExpired.count(), 1, 3000);
    again.setTtl(30000); // releaseAfter() had cut it
    QVERIFY(acquireNow(again));
    QSignalSpy againReleased(&again, &DistributedLock::released);
    c.reset();
    QCOMPARE(againReleased.count(), 1);
    QTRY_VERIFY_WITH_TIMEOUT(goneEverywhere("again"), 1000);
}

namespace {
// A subclass with a timerEvent() of its own (for its own timers).
class LockWithOwnTimers : public DistributedLock
{
protected:
    void timerEvent(QTimerEvent *) override { ++m_events; }

public:
    int m_events = 0;
};
} // namespace

void tst_DistributedLock::subclassTimerEvent_doesNotStopExpiry()
{
    // Regression: the lock's timers arrived as fake QTimerEvents through a protected
    // timerEvent(), so a subclass that overrode it silently stopped expiry and extension.
    auto m = makeManager(m_cluster.urls());
    LockWithOwnTimers lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("subclass"));
    lock.setTtl(600);
    lock.setAutoExtend(true);
    QSignalSpy extended(&lock, &DistributedLock::extended);
    QSignalSpy expired(&lock, &DistributedLock::expired);
    QVERIFY(acquireNow(lock));
    QTRY_VERIFY_WITH_TIMEOUT(extended.count() >= 1, 1000);
    lock.setAutoExtend(false);
    QTRY_COMPARE_WITH_TIMEOUT(expired.count(), 1, 1500);
    QCOMPARE(lock.m_events, 0);
}

void tst_DistributedLock::managerDestroyedWhileAcquiring()
{
    auto m = makeManager(m_cluster.urls());
    for (int i = 0; i < 3; ++i)
        m_cluster.at(i).command({ "SET", "gone", "someone", "PX", "10000" });
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("gone"));
    lock.setAcquireTimeout(5000);
    QSignalSpy failed(&lock, &DistributedLock::acquireFailed);
    lock.acquire();
    QTest::qWait(50);
    m.reset();
    QTRY_COMPARE(failed.count(), 1);
    QCOMPARE(lock.error(), DistributedLock::Error::Cancelled);
}

// ---- remainingValidityChanged(): the live NOTIFY of remainingValidity ----------------------

namespace {
// Every remainingValidityChanged() with the value read in the slot and the time it came.
struct ValidityRecorder
{
    explicit ValidityRecorder(DistributedLock *lock)
    {
        clock.start();
        connection = QObject::connect(lock, &DistributedLock::remainingValidityChanged, lock, [this, lock] {
            values.append(lock->remainingValidity());
            at.append(clock.elapsed());
            locked.append(lock->isLocked());
        });
    }
    ~ValidityRecorder() { QObject::disconnect(connection); }
    int countBetween(qint64 from, qint64 to) const
    {
        return int(std::count_if(at.cbegin(), at.cend(), [=](qint64 t) { return t >= from && t < to; }));
    }
    QString describe() const
    {
        QStringList parts;
        for (int i = 0; i < values.size(); ++i)
            parts.append(QStringLiteral("%1@%2").arg(values.at(i)).arg(at.at(i)));
        return parts.join(u' ');
    }
    QElapsedTimer clock;
    QMetaObject::Connection connection;
    QList<int> values;
    QList<qint64> at;
    QList<bool> locked;
};
} // namespace

// While Locked and watched: once a second above 10 s left, every 100 ms below; the values
// fall strictly from one emission to the next.
void tst_DistributedLock::remainingValidityChanged_rate_data()
{
    QTest::addColumn<int>("ttl");
    QTest::addColumn<int>("windowMs");
    QTest::addColumn<int>("minimum");
    QTest::addColumn<int>("maximum");
    // ~2 expected in 2.5 s at 1 s (a boundary every second, the first less than 1 s in)
    QTest::newRow("above 10 s: once a second") << 30000 << 2500 << 1 << 4;
    // ~10 expected in 1 s at 100 ms; generous for a loaded machine
    QTest::newRow("below 10 s: every 100 ms") << 5000 << 1000 << 6 << 12;
}

void tst_DistributedLock::remainingValidityChanged_rate()
{
    QFETCH(int, ttl);
    QFETCH(int, windowMs);
    QFETCH(int, minimum);
    QFETCH(int, maximum);
    auto m = makeManager(m_cluster.urls());
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("live-validity"));
    lock.setTtl(ttl);
    ValidityRecorder rec(&lock);
    QVERIFY(acquireNow(lock));
    // The change to Locked itself: one emission with the fresh validity (the TTL less the
    // drift allowance, 1 % + 2 ms, and the round trip).
    QCOMPARE(rec.values.size(), 1);
    QVERIFY2(rec.values.at(0) > ttl - (ttl / 100 + 2) - 200, qPrintable(rec.describe()));
    const qint64 from = rec.clock.elapsed();
    QTest::qWait(windowMs);
    const int n = rec.countBetween(from, from + windowMs);
    QVERIFY2(n >= minimum && n <= maximum,
             qPrintable(QStringLiteral("%1 emissions in %2 ms: %3").arg(n).arg(windowMs).arg(rec.describe())));
    for (int i = 1; i < rec.values.size(); ++i)
        QVERIFY2(rec.values.at(i) < rec.values.at(i - 1), qPrintable(rec.describe()));
    for (bool l : std::as_const(rec.locked))
        QVERIFY(l);
    lock.release();
    QTRY_COMPARE(lock.state(), DistributedLock::State::Unlocked);
}

void tst_DistributedLock::remainingValidityChanged_stopsAfterRelease()
{
    auto m = makeManager(m_cluster.urls());
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("live-validity-release"));
    lock.setTtl(3000);
    ValidityRecorder rec(&lock);
    QVERIFY(acquireNow(lock));
    QTest::qWait(350);
    QVERIFY2(rec.values.size() >= 3, qPrintable(rec.describe()));
    QSignalSpy released(&lock, &DistributedLock::released);
    lock.release();
    // Leaving Locked (for Releasing) is the last emission, with 0.
    QCOMPARE(rec.values.last(), 0);
    const int count = rec.values.size();
    QTRY_COMPARE(released.count(), 1);
    QTest::qWait(500);
    QCOMPARE(rec.values.size(), count);
}

void tst_DistributedLock::remainingValidityChanged_stopsAfterExpiry()
{
    auto m = makeManager(m_cluster.urls());
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("live-validity-expiry"));
    lock.setTtl(800);
    QSignalSpy expired(&lock, &DistributedLock::expired);
    ValidityRecorder rec(&lock);
    QVERIFY(acquireNow(lock));
    QTRY_COMPARE_WITH_TIMEOUT(expired.count(), 1, 2000);
    // ~7 ticks (every 100 ms of 790 ms), the acquisition's and the expiry's emissions
    QVERIFY2(rec.values.size() >= 5 && rec.values.size() <= 11, qPrintable(rec.describe()));
    QCOMPARE(rec.values.last(), 0);
    QCOMPARE(rec.locked.last(), false);
    for (int i = 1; i < rec.values.size(); ++i)
        QVERIFY2(rec.values.at(i) < rec.values.at(i - 1), qPrintable(rec.describe()));
    const int count = rec.values.size();
    QTest::qWait(500);
    QCOMPARE(rec.values.size(), count);
}

// Connected only once the lock is held (connectNotify): the periodic emission starts then.
void tst_DistributedLock::remainingValidityChanged_connectWhileLocked()
{
    auto m = makeManager(m_cluster.urls());
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("live-validity-late"));
    lock.setTtl(3000);
    QVERIFY(acquireNow(lock));
    QTest::qWait(50);
    ValidityRecorder rec(&lock);
    QTest::qWait(550);
    QVERIFY2(rec.values.size() >= 3 && rec.values.size() <= 7, qPrintable(rec.describe()));
    // A second receiver does not double the rate: one timer per lock.
    ValidityRecorder second(&lock);
    const int before = rec.values.size();
    QTest::qWait(550);
    QVERIFY2(rec.values.size() - before >= 3 && rec.values.size() - before <= 7, qPrintable(rec.describe()));
    lock.release();
    QTRY_COMPARE(lock.state(), DistributedLock::State::Unlocked);
}

// An extension emits at once, with the renewed (higher) validity.
void tst_DistributedLock::remainingValidityChanged_followsExtension()
{
    auto m = makeManager(m_cluster.urls());
    DistributedLock lock;
    lock.setManager(m.get());
    lock.setResource(QStringLiteral("live-validity-extend"));
    lock.setTtl(3000);
    QVERIFY(acquireNow(lock));
    QTest::qWait(500);
    ValidityRecorder rec(&lock);
    QSignalSpy extended(&lock, &DistributedLock::extended);
    const int before = lock.remainingValidity();
    lock.extend();
    QTRY_COMPARE(extended.count(), 1);
    QVERIFY(!rec.values.isEmpty());
    QVERIFY2(rec.values.last() > before + 300, qPrintable(QString::number(before) + u' ' + rec.describe()));
    lock.release();
    QTRY_COMPARE(lock.state(), DistributedLock::State::Unlocked);
}

QTEST_MAIN(tst_DistributedLock)
#include "tst_distributedlock.moc"
