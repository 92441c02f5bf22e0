// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Push coordination against real redis-server processes: waiters woken by releases (also
// when the release races the subscription), the handoff to the one who waited, fallback to
// polling when the ACL denies PUBLISH / SUBSCRIBE / CLIENT, a foreign client's release,
// channels unsubscribed when waits end (10,000 of them), and lost() at once after a foreign
// delete or a majority restart.
#include "distributedlock_p.h"

#include "lockinspection.h"

#include "lockmanager_p.h"
#include "rawredisclient.h"
#include "redisserver.h"

#include <QtCore/QElapsedTimer>

#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <malloc.h>

#include <algorithm>
#include <memory>
#include <vector>

using QRedlock::DistributedLock;
using QRedlock::LockManager;
using QRedlock::LockManagerPrivate;
using QRedlockTest::RedisCluster;
using QRedlockTest::RedisServer;

namespace {

// Bytes the heap has handed out: small chunks and the blocks malloc maps on their own
// (hash tables and buffers past the mmap threshold), which uordblks alone leaves out.
qint64 heapInUse()
{
    const struct mallinfo2 info = mallinfo2();
    return qint64(info.uordblks) + qint64(info.hblkhd);
}

std::unique_ptr<LockManager> makeManager(const QStringList &urls, int retryDelay)
{
    auto m = std::make_unique<LockManager>();
    if (!m->setServers(urls))
        qFatal("setServers failed: %s", qPrintable(m->errorString()));
    m->setServerTimeout(200);
    m->setRetryDelay(retryDelay);
    m->setRetryJitter(0);
    m->setRetryCount(-1);
    return m;
}

std::unique_ptr<DistributedLock> makeLock(LockManager *m, const QString &resource, int ttl = 30000)
{
    auto lock = std::make_unique<DistributedLock>();
    lock->setManager(m);
    lock->setResource(resource);
    lock->setTtl(ttl);
    return lock;
}

bool acquireNow(DistributedLock &lock)
{
    QSignalSpy ok(&lock, &DistributedLock::acquired);
    lock.acquire();
    return QTest::qWaitFor([&] { return !ok.isEmpty(); }, 5000);
}

const QRedlock::LockNotifier &notifier(LockManager *m)
{
    return *LockManagerPrivate::get(m)->notifier;
}

QStringList capturedWarnings;
QtMessageHandler previousHandler = nullptr;
void captureWarnings(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (type == QtWarningMsg)
        capturedWarnings << message;
    previousHandler(type, context, message);
}

} // namespace

class tst_Push : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void wakeUp_onRelease();
    void wakeUp_releaseRacesTheSubscription();
    void handoff_goesToTheWaiter();
    void resubscribe_afterServerRestart();
    void foreignRelease_withinRetryDelay();
    void fallback_whenAclDenies();
    void notificationsOff_polls();
    void unsubscribe_whenWaitsEnd_data();
    void unsubscribe_whenWaitsEnd();
    void lost_onForeignDelete();
    void lost_onMajorityRestart();
    void waitLoad_tenthOfPolling();
    void foreignDelete_wakesWaiter();
    void forceRelease_wakesWaiter();
    void wakeUps_costNoRetries();
    void tracking_defaultMode_extensionStaysWatched();
    void shortHolds_costNoWatch();
    void lost_onForeignDeleteRightAfterTheGrant();
    void handoff_waitsForAQuorumOfReleases();
    void splitCleanup_handsNothingOn();
    void lost_onDeletesOneServerAtATime();

private:
    RedisCluster m_cluster;
};

void tst_Push::initTestCase()
{
    QVERIFY2(m_cluster.start(3), qPrintable(m_cluster.errorString()));
}

void tst_Push::wakeUp_onRelease()
{
    // With a retryDelay of 10 s only a wake-up can explain a grant within a second.
    auto ma = makeManager(m_cluster.urls(), 10000);
    auto mb = makeManager(m_cluster.urls(), 10000);
    auto a = makeLock(ma.get(), QStringLiteral("push-wake"));
    auto b = makeLock(mb.get(), QStringLiteral("push-wake"));
    QVERIFY(acquireNow(*a));
    QSignalSpy got(b.get(), &DistributedLock::acquired);
    QElapsedTimer t;
    qint64 grantNs = -1;
    connect(b.get(), &DistributedLock::acquired, this, [&] { grantNs = t.nsecsElapsed(); });
    b->acquire();
    QTRY_COMPARE_WITH_TIMEOUT(notifier(mb.get()).channelCount(), 1, 2000);
    QTest::qWait(50); // the subscription and the queued attempt are done
    // While it waits it tells why, though nothing is reported as an error (the message is
    // made from its last round's outcomes when read).
    QCOMPARE(b->error(), DistributedLock::Error::NoError);
    QVERIFY2(b->errorString().startsWith(QStringLiteral("lock 'push-wake' not acquired: 0 of 3 servers granted (quorum 2)"))
                     && b->errorString().contains(QStringLiteral(" refused")),
             qPrintable(b->errorString()));
    QCOMPARE(b->serverOutcomes().size(), 3);
    QCOMPARE(b->serverOutcomes().at(0).result, DistributedLock::ServerResult::Refused);
    t.start();
    a->release();
    QVERIFY(got.wait(2000)); // a real event loop (QTRY_* sleeps 10 ms between its looks)
    qInfo("release to grant: %.2f ms", double(grantNs) / 1e6);
    QVERIFY(grantNs < 1000 * 1000000LL);
    QCOMPARE(notifier(mb.get()).channelCount(), 0);
    QCOMPARE(notifier(mb.get()).waitCount(), 0);
}

void tst_Push::wakeUp_releaseRacesTheSubscription()
{
    // The release goes out right after the waiter's first (plain) attempt was refused, while
    // its SUBSCRIBE is on the way: the attempt after the confirmation must see the free key.
    auto ma = makeManager(m_cluster.urls(), 10000);
    auto mb = makeManager(m_cluster.urls(), 10000);
    for (int round = 0; round < 20; ++round) {
        const QString resource = QStringLiteral("push-race-%1").arg(round);
        auto a = makeLock(ma.get(), resource);
        auto b = makeLock(mb.get(), resource);
        QVERIFY(acquireNow(*a));
        QSignalSpy got(b.get(), &DistributedLock::acquired);
        b->acquire();
        // The wait begins when the first attempt was refused; the release follows at once
        // (or a few event-loop turns later), before or after SUBSCRIBE reached the servers.
        QTRY_COMPARE_WITH_TIMEOUT(notifier(mb.get()).waitCount(), 1, 2000);
        for (int i = 0; i < round % 4; ++i)
            QCoreApplication::processEvents();
        QElapsedTimer t;
        t.start();
        a->release();
        QTRY_VERIFY_WITH_TIMEOUT(!got.isEmpty(), 3000);
        QVERIFY2(t.elapsed() < 1000, qPrintable(QStringLiteral("round %1: %2 ms").arg(round).arg(t.elapsed())));
        b->release();
    }
}

void tst_Push::handoff_goesToTheWaiter()
{
    // The holder asks again right after its release; the waiter who waited gets it, every time.
    auto ma = makeManager(m_cluster.urls(), 200);
    auto mb = makeManager(m_cluster.urls(), 200);
    auto a = makeLock(ma.get(), QStringLiteral("push-handoff"));
    auto b = makeLock(mb.get(), QStringLiteral("push-handoff"));
    QVERIFY(acquireNow(*a));
    int toWaiter = 0;
    DistributedLock *holder = a.get();
    DistributedLock *waiter = b.get();
    for (int cycle = 0; cycle < 10; ++cycle) {
        QSignalSpy got(waiter, &DistributedLock::acquired);
        waiter->acquire();
        QTest::qWait(60); // it waits (queued on the servers)
        holder->release();
        holder->acquire(); // at once, behind the waiter
        QTRY_VERIFY_WITH_TIMEOUT(!got.isEmpty() || holder->isLocked(), 3000);
        if (!got.isEmpty()) {
            ++toWaiter;
            std::swap(holder, waiter);
        }
        QTRY_VERIFY_WITH_TIMEOUT(holder->isLocked(), 3000);
        // The other one now waits; it gives up this round.
        waiter->release();
        QTRY_COMPARE_WITH_TIMEOUT(waiter->state(), DistributedLock::State::Unlocked, 2000);
    }
    qInfo("releases to the waiter: %d of 10", toWaiter);
    QVERIFY(toWaiter >= 9);
    holder->release();
}

void tst_Push::resubscribe_afterServerRestart()
{
    // A waiter's subscriber connection to a restarted server comes back subscribed, and the
    // waiter still gets the lock at once when it is released.
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    auto ma = makeManager(cluster.urls(), 10000);
    auto mb = makeManager(cluster.urls(), 10000);
    auto a = makeLock(ma.get(), QStringLiteral("push-restart"));
    auto b = makeLock(mb.get(), QStringLiteral("push-restart"));
    QVERIFY(acquireNow(*a));
    QSignalSpy got(b.get(), &DistributedLock::acquired);
    b->acquire();
    const QByteArray channel = LockManagerPrivate::releaseChannel(QByteArrayLiteral("push-restart"));
    const auto subscribers = [&](int server) {
        const QVariantList r = cluster.at(server).command({ "PUBSUB", "NUMSUB", channel }).toList();
        return r.size() == 2 ? r.at(1).toLongLong() : -1;
    };
    QTRY_COMPARE_WITH_TIMEOUT(subscribers(0), 1LL, 3000);
    cluster.at(0).kill();
    QVERIFY(cluster.at(0).restart());
    QTRY_COMPARE_WITH_TIMEOUT(subscribers(0), 1LL, 5000);
    QVERIFY(got.isEmpty());
    QTest::qWait(100);
    a->release();
    QVERIFY(got.wait(2000));
    QCOMPARE(notifier(mb.get()).channelCount(), 0);
}

void tst_Push::foreignRelease_withinRetryDelay()
{
    // Another client's lock, released with a plain DEL: nothing is published, the waiter
    // finds out at its next attempt, retryDelay at the latest.
    auto m = makeManager(m_cluster.urls(), 300);
    const QByteArray key = QByteArrayLiteral("push-foreign");
    for (int i = 0; i < 3; ++i)
        QCOMPARE(m_cluster.at(i).command({ "SET", key, "foreign-token", "PX", "60000" }).toByteArray(),
                 QByteArrayLiteral("OK"));
    auto b = makeLock(m.get(), QString::fromLatin1(key));
    QSignalSpy got(b.get(), &DistributedLock::acquired);
    b->acquire();
    QTest::qWait(100);
    QElapsedTimer t;
    t.start();
    for (int i = 0; i < 3; ++i)
        m_cluster.at(i).command({ "DEL", key });
    QTRY_VERIFY_WITH_TIMEOUT(!got.isEmpty(), 3000);
    qInfo("foreign release to grant: %lld ms", qlonglong(t.elapsed()));
    QVERIFY(t.elapsed() < 300 + 250);
    b->release();
}

void tst_Push::fallback_whenAclDenies()
{
    RedisCluster cluster;
    RedisServer::Options o;
    o.aclUser = QStringLiteral("locker");
    o.aclPassword = QStringLiteral("pw");
    QVERIFY2(cluster.start(3, o), qPrintable(cluster.errorString()));
    QStringList urls;
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(cluster.at(i).command({ "ACL", "SETUSER", "locker", "-publish", "-subscribe", "-client" })
                         .toByteArray(),
                 QByteArrayLiteral("OK"));
        urls << cluster.at(i).aclUrl();
    }
    capturedWarnings.clear();
    previousHandler = qInstallMessageHandler(captureWarnings);
    auto ma = makeManager(urls, 200);
    auto mb = makeManager(urls, 200);
    auto a = makeLock(ma.get(), QStringLiteral("push-acl"));
    auto b = makeLock(mb.get(), QStringLiteral("push-acl"));
    QVERIFY(acquireNow(*a)); // CLIENT TRACKING refused: a's manager warns once per server
    QSignalSpy got(b.get(), &DistributedLock::acquired);
    b->acquire();
    QTest::qWait(300);
    QVERIFY(got.isEmpty());
    QElapsedTimer t;
    t.start();
    a->release(); // PUBLISH is refused inside the script (pcall): the release still works
    QTRY_VERIFY_WITH_TIMEOUT(!got.isEmpty(), 2000);
    QVERIFY(t.elapsed() < 200 + 250);
    // A second wait on the same servers says nothing more.
    b->release();
    auto c = makeLock(mb.get(), QStringLiteral("push-acl-2"));
    QVERIFY(acquireNow(*c));
    qInstallMessageHandler(previousHandler);
    int subscribe = 0;
    int tracking = 0;
    for (const QString &w : std::as_const(capturedWarnings)) {
        subscribe += w.contains(QStringLiteral("SUBSCRIBE refused")) ? 1 : 0;
        tracking += w.contains(QStringLiteral("CLIENT TRACKING refused")) ? 1 : 0;
    }
    QCOMPARE(subscribe, 3); // once per server of b's manager
    QVERIFY(tracking >= 3 && tracking <= 6); // once per server and manager
    QVERIFY(!a->isLocked());
    c->release();
}

void tst_Push::notificationsOff_polls()
{
    auto ma = makeManager(m_cluster.urls(), 200);
    auto mb = makeManager(m_cluster.urls(), 200);
    QSignalSpy changed(mb.get(), &LockManager::notificationsChanged);
    QVERIFY(mb->notifications());
    mb->setNotifications(false);
    QCOMPARE(changed.size(), 1);
    auto a = makeLock(ma.get(), QStringLiteral("push-off"));
    auto b = makeLock(mb.get(), QStringLiteral("push-off"));
    QVERIFY(acquireNow(*a));
    QSignalSpy got(b.get(), &DistributedLock::acquired);
    b->acquire();
    QTest::qWait(100);
    QCOMPARE(notifier(mb.get()).openConnections(), 0);
    QCOMPARE(notifier(mb.get()).channelCount(), 0);
    a->release();
    QTRY_VERIFY_WITH_TIMEOUT(!got.isEmpty(), 2000);
    b->release();
}

void tst_Push::unsubscribe_whenWaitsEnd_data()
{
    QTest::addColumn<bool>("notifications");
    QTest::newRow("polling") << false;
    QTest::newRow("push") << true;
}

void tst_Push::unsubscribe_whenWaitsEnd()
{
    // 10,000 waiters on 10,000 resources held by another client: one subscriber connection
    // per server, a few MiB more than polling, and nothing left (here or on the servers)
    // once the waits end.
    QFETCH(bool, notifications);
    constexpr int N = 10000;
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    {
        auto client = server.connectClient();
        QVERIFY(client);
        QList<QByteArray> mset { "MSET" };
        for (int i = 0; i < N; ++i)
            mset << QByteArrayLiteral("many-") + QByteArray::number(i) << QByteArrayLiteral("foreign");
        QCOMPARE(client->command(mset).toByteArray(), QByteArrayLiteral("OK"));
    }
    auto m = makeManager({ server.url() }, 60000);
    m->setServerTimeout(2000);
    m->setNotifications(notifications);
    std::vector<std::unique_ptr<DistributedLock>> locks;
    locks.reserve(N);
    for (int i = 0; i < N; ++i)
        locks.push_back(makeLock(m.get(), QStringLiteral("many-%1").arg(i)));
    QTest::qWait(100);
    const qint64 before = heapInUse();
    for (auto &l : locks)
        l->acquire();
    if (notifications) {
        QTRY_COMPARE_WITH_TIMEOUT(notifier(m.get()).channelCount(), N, 30000);
        QTRY_COMPARE_WITH_TIMEOUT(
                server.command({ "PUBSUB", "CHANNELS", "many-*:released" }).toList().size(), N, 30000);
        QCOMPARE(notifier(m.get()).openConnections(), 1);
    }
    if (notifications) // every lock has made its queued attempt: its two queue keys exist
        QTRY_COMPARE_WITH_TIMEOUT(server.command({ "DBSIZE" }).toLongLong(), qlonglong(3 * N), 30000);
    // And every reply is in: no attempt (or look) is in flight, each push waiter has made
    // its queued attempt. Measured earlier, a busy machine caught thousands of rounds still
    // in flight (10 MiB more), which is not what a wait holds.
    const auto settled = [&] {
        return std::all_of(locks.cbegin(), locks.cend(), [&](const std::unique_ptr<DistributedLock> &l) {
            const QRedlock::DistributedLockPrivate *d = QRedlock::DistributedLockPrivate::get(l.get());
            return !d->attemptInFlight && !d->probing && (d->queued || !notifications);
        });
    };
    QTRY_VERIFY_WITH_TIMEOUT(settled(), 30000);
    QTest::qWait(200); // the sockets' buffers drain
    const qint64 during = heapInUse();
    qInfo("10,000 waits (%s): %lld KiB of heap", notifications ? "push" : "polling",
          qlonglong((during - before) / 1024));
    static qint64 pollingBytes = 0;
    if (!notifications) {
        pollingBytes = during - before;
        // Measured 4.0 MiB, ~400 bytes a waiting lock: its token, keys, timer entry and the
        // outcomes of its last round (9.7 MiB while it kept the whole round and a formatted
        // error message). The bound catches a lock that keeps a round or a string again.
        QVERIFY2(pollingBytes < 7 * 1024 * 1024, "10,000 polling waits hold more than 7 MiB");
    } else {
        // Measured 2.6 MiB beyond polling, ~270 bytes a waiter: its key's entry in the
        // notifier (shared with every lock of the manager on that key) and its wait (5.2-6.2
        // MiB while a wait had a channel name and list and a watch of its own, and a key
        // table beside the channel table; 8.0-8.7 MiB before the callbacks and channel
        // states lost their blocks). The bound catches a leak or a per-wait buffer.
        QVERIFY2(during - before - pollingBytes < 5 * 1024 * 1024, "push costs more than 5 MiB beyond polling");
    }
    for (auto &l : locks)
        l->release();
    QCOMPARE(notifier(m.get()).channelCount(), 0);
    QCOMPARE(notifier(m.get()).waitCount(), 0);
    QTRY_VERIFY_WITH_TIMEOUT(server.command({ "PUBSUB", "CHANNELS", "*:released" }).toList().isEmpty(),
                             10000);
    // Leaving waiters take their queue entries along: only the foreign keys remain.
    QTRY_COMPARE_WITH_TIMEOUT(server.command({ "DBSIZE" }).toLongLong(), qlonglong(N), 10000);
    // And the idle subscriber connection closes.
    QTRY_COMPARE_WITH_TIMEOUT(notifier(m.get()).openConnections(), 0, 5000);
    locks.clear();
}

void tst_Push::lost_onForeignDelete()
{
    auto m = makeManager(m_cluster.urls(), 200);
    auto a = makeLock(m.get(), QStringLiteral("push-lost-delete"));
    a->setAutoExtend(true);
    QVERIFY(acquireNow(*a));
    QTest::qWait(200); // tracking is on
    QSignalSpy lost(a.get(), &DistributedLock::lost);
    QElapsedTimer t;
    t.start();
    m_cluster.at(0).command({ "DEL", "push-lost-delete" });
    m_cluster.at(1).command({ "DEL", "push-lost-delete" });
    QTRY_VERIFY_WITH_TIMEOUT(!lost.isEmpty(), 5000);
    qInfo("foreign delete to lost(): %lld ms", qlonglong(t.elapsed()));
    QVERIFY(t.elapsed() < 1000);
}

void tst_Push::lost_onMajorityRestart()
{
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    auto m = makeManager(cluster.urls(), 200);
    auto a = makeLock(m.get(), QStringLiteral("push-lost-restart"));
    a->setAutoExtend(true);
    QVERIFY(acquireNow(*a));
    QTest::qWait(200);
    QSignalSpy lost(a.get(), &DistributedLock::lost);
    QElapsedTimer t;
    t.start();
    cluster.at(0).kill();
    cluster.at(1).kill();
    QVERIFY(cluster.at(0).restart());
    QVERIFY(cluster.at(1).restart());
    QTRY_VERIFY_WITH_TIMEOUT(!lost.isEmpty(), 10000);
    qInfo("majority restart (kill to lost()): %lld ms", qlonglong(t.elapsed()));
    QVERIFY(t.elapsed() < 3000);
}

namespace {
// Calls of every command on every server of the cluster (INFO commandstats).
qint64 commandCalls(RedisCluster &cluster)
{
    qint64 total = 0;
    for (int i = 0; i < cluster.size(); ++i) {
        const QByteArray info = cluster.at(i).command({ "INFO", "commandstats" }).toByteArray();
        for (const QByteArray &line : info.split('\n')) {
            const qsizetype at = line.indexOf("calls=");
            if (line.startsWith("cmdstat_") && at > 0)
                total += line.mid(at + 6, line.indexOf(',', at) - at - 6).toLongLong();
        }
    }
    return total;
}

void setForeign(RedisCluster &cluster, const QByteArray &key)
{
    for (int i = 0; i < cluster.size(); ++i)
        cluster.at(i).command({ "SET", key, "foreign-token", "PX", "60000" });
}
} // namespace

void tst_Push::waitLoad_tenthOfPolling()
{
    // 20 waiters on one held lock: what the servers receive over a window, polling vs push,
    // in one run. Pushed waiters do not poll (they are woken), so push is at most a tenth.
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    qint64 perSecond[2] = { 0, 0 };
    for (int push = 0; push < 2; ++push) {
        const QString resource = QStringLiteral("push-load-%1").arg(push);
        auto mh = makeManager(cluster.urls(), 100);
        auto mw = makeManager(cluster.urls(), 100);
        mw->setNotifications(push == 1);
        auto holder = makeLock(mh.get(), resource);
        holder->setAutoExtend(true);
        QVERIFY(acquireNow(*holder));
        std::vector<std::unique_ptr<DistributedLock>> waiters;
        for (int i = 0; i < 20; ++i) {
            waiters.push_back(makeLock(mw.get(), resource));
            waiters.back()->acquire();
        }
        QTest::qWait(500); // subscriptions and first queued attempts
        const qint64 c0 = commandCalls(cluster);
        QElapsedTimer t;
        t.start();
        QTest::qWait(2000);
        const qint64 c1 = commandCalls(cluster);
        perSecond[push] = (c1 - c0 - cluster.size()) * 1000 / std::max<qint64>(1, t.elapsed());
        for (auto &w : waiters)
            QCOMPARE(w->state(), DistributedLock::State::Acquiring);
        waiters.clear();
        holder->release();
    }
    qInfo("20 waiters: polling %lld commands/s, push %lld commands/s", qlonglong(perSecond[0]),
          qlonglong(perSecond[1]));
    QVERIFY(perSecond[0] > 0);
    QVERIFY2(perSecond[1] * 10 <= perSecond[0], "push waiters load the servers more than a tenth of polling");
}

void tst_Push::foreignDelete_wakesWaiter()
{
    // Another client's lock removed with a plain DEL publishes nothing; the waiter still
    // hears of it (its key is tracked since its attempt read it), long before retryDelay.
    auto m = makeManager(m_cluster.urls(), 10000);
    const QByteArray key = QByteArrayLiteral("push-foreign-delete");
    setForeign(m_cluster, key);
    auto b = makeLock(m.get(), QString::fromLatin1(key));
    QSignalSpy got(b.get(), &DistributedLock::acquired);
    b->acquire();
    QTest::qWait(200);
    QVERIFY(got.isEmpty());
    QElapsedTimer t;
    t.start();
    for (int i = 0; i < 3; ++i)
        m_cluster.at(i).command({ "DEL", key });
    QVERIFY(got.wait(2000));
    qInfo("foreign DEL to grant: %lld ms", qlonglong(t.elapsed()));
    QVERIFY(t.elapsed() < 250);
    b->release();
}

void tst_Push::forceRelease_wakesWaiter()
{
    // An operator's forceRelease publishes (empty payload: anyone may try): the waiter
    // gets the lock at once, not at its next attempt.
    auto ma = makeManager(m_cluster.urls(), 10000);
    auto mb = makeManager(m_cluster.urls(), 10000);
    auto a = makeLock(ma.get(), QStringLiteral("push-force"));
    auto b = makeLock(mb.get(), QStringLiteral("push-force"));
    QVERIFY(acquireNow(*a));
    QSignalSpy got(b.get(), &DistributedLock::acquired);
    b->acquire();
    QTest::qWait(200);
    QElapsedTimer t;
    t.start();
    QRedlock::LockInspection *job = mb->forceRelease(QStringLiteral("push-force"), QByteArray());
    QVERIFY(job);
    QVERIFY(got.wait(2000));
    qInfo("forceRelease to grant: %lld ms", qlonglong(t.elapsed()));
    QVERIFY(t.elapsed() < 500);
    b->release();
}

void tst_Push::wakeUps_costNoRetries()
{
    // retryCount 3 at retryDelay 300: a polling waiter gives up after about 900 ms. Ten
    // wake-ups (publishes naming nobody) in the first 300 ms must not end it sooner, and the
    // long safety net must not keep it waiting longer than polling would.
    auto m = makeManager(m_cluster.urls(), 300);
    m->setRetryCount(3);
    const QByteArray key = QByteArrayLiteral("push-retries");
    setForeign(m_cluster, key);
    auto b = makeLock(m.get(), QString::fromLatin1(key));
    QSignalSpy failed(b.get(), &DistributedLock::acquireFailed);
    QElapsedTimer t;
    t.start();
    b->acquire();
    QTest::qWait(100);
    const QByteArray channel = LockManagerPrivate::releaseChannel(key);
    for (int i = 0; i < 10; ++i) {
        for (int s = 0; s < 3; ++s)
            m_cluster.at(s).command({ "PUBLISH", channel, "" });
        QTest::qWait(20);
    }
    QTest::qWait(100);
    QVERIFY2(failed.isEmpty(), "wake-ups burnt the retries");
    QCOMPARE(b->state(), DistributedLock::State::Acquiring);
    QVERIFY(failed.wait(5000));
    qInfo("gave up after %lld ms", qlonglong(t.elapsed()));
    QVERIFY(t.elapsed() >= 850);
    QVERIFY(t.elapsed() < 2500);
    QCOMPARE(b->error(), DistributedLock::Error::Conflict);
    for (int s = 0; s < 3; ++s)
        m_cluster.at(s).command({ "DEL", key });
}

void tst_Push::tracking_defaultMode_extensionStaysWatched()
{
    // Default-mode tracking (not BCAST): the server tracks only keys we read. A held lock's
    // extensions write its keys (which drops them from tracking); the extension reads them
    // again, so a foreign delete after several extensions still ends the lock at once.
    auto m = makeManager(m_cluster.urls(), 200);
    auto a = makeLock(m.get(), QStringLiteral("push-track-extend"), 900);
    a->setAutoExtend(true);
    QVERIFY(acquireNow(*a));
    QSignalSpy extended(a.get(), &DistributedLock::extended);
    QTRY_VERIFY_WITH_TIMEOUT(extended.size() >= 3, 5000);
    // No main connection tracks in BCAST mode.
    const QByteArray clients = m_cluster.at(0).command({ "CLIENT", "LIST" }).toByteArray();
    int tracking = 0;
    for (const QByteArray &line : clients.split('\n')) {
        const qsizetype at = line.indexOf(" flags=");
        if (at < 0)
            continue;
        const QByteArray flags = line.mid(at + 7, line.indexOf(' ', at + 7) - at - 7);
        tracking += flags.contains('t') ? 1 : 0;
        QVERIFY2(!flags.contains('B'), line.constData());
    }
    QVERIFY(tracking >= 1);
    QSignalSpy lost(a.get(), &DistributedLock::lost);
    QTest::qWait(100);
    QElapsedTimer t;
    t.start();
    m_cluster.at(0).command({ "DEL", "push-track-extend" });
    m_cluster.at(1).command({ "DEL", "push-track-extend" });
    QVERIFY(lost.wait(2000));
    qInfo("foreign delete after extensions to lost(): %lld ms", qlonglong(t.elapsed()));
    QVERIFY(t.elapsed() < 200);
}

void tst_Push::handoff_waitsForAQuorumOfReleases()
{
    // A release reaches the servers one after another. The head woken by the first server's
    // publish waits for a quorum of them (or LockManagerPrivate::HandoffGraceMs) before it
    // attempts. Attempting at once, it found the old holder's keys on the others: a split
    // round (one server granted, too few for a quorum), a cleanup and another round; with
    // 16 contenders that was up to one split round per handoff (lockbench fair-handoff).
    auto ma = makeManager(m_cluster.urls(), 10000);
    auto mb = makeManager(m_cluster.urls(), 10000);
    const QString resource = QStringLiteral("push-staggered-release");
    auto a = makeLock(ma.get(), resource);
    auto b = makeLock(mb.get(), resource);
    QVERIFY(acquireNow(*a));
    int splits = 0;
    QObject::connect(b.get(), &DistributedLock::serverStatusChanged, b.get(), [&] {
        if (b->state() != DistributedLock::State::Acquiring)
            return;
        int granted = 0;
        for (const auto &o : b->serverOutcomes()) {
            if (o.result == DistributedLock::ServerResult::Pending)
                return;
            granted += o.result == DistributedLock::ServerResult::Granted ? 1 : 0;
        }
        splits += granted > 0 && granted < mb->quorum() ? 1 : 0;
    });
    QSignalSpy got(b.get(), &DistributedLock::acquired);
    b->acquire();
    QTest::qWait(300); // refused, subscribed, queued on every server
    QVERIFY(got.isEmpty());
    // a's release, by hand, one server at a time: the first publishes b's turn, and b's
    // event loop runs before the second server hears of the release.
    LockManagerPrivate *mp = LockManagerPrivate::get(ma.get());
    const QList<QByteArray> keys = mp->keysFor({ resource });
    const QByteArray token = a->token();
    const auto releaseOn = [&](int server) {
        QList<QByteArray> args { "EVAL", mp->releaseScript.source(), "1" };
        args << keys << mp->releaseArgs(token, QByteArray());
        return m_cluster.at(server).command(args).toLongLong();
    };
    QCOMPARE(releaseOn(0), 1);
    // Until b has read the publish: it then waits for the other servers (handedCount), or,
    // attempting at once, has its attempt out.
    const QRedlock::DistributedLockPrivate *bd = QRedlock::DistributedLockPrivate::get(b.get());
    QVERIFY(QTest::qWaitFor([&] { return bd->handedCount > 0 || bd->attemptInFlight; }, 2000));
    QCOMPARE(releaseOn(1), 1);
    QCOMPARE(releaseOn(2), 1);
    QVERIFY(got.wait(2000));
    qInfo("split rounds after the release: %d", splits);
    QCOMPARE(splits, 0);
    b->release();
}

void tst_Push::splitCleanup_handsNothingOn()
{
    // A holder (another client) on servers 2 and 3, waiters queued on every server, and
    // server 1's key gone. A newcomer's plain attempt takes server 1 only: a split round,
    // whose cleanup frees server 1's key again. That cleanup handed the key to the head of
    // server 1's queue, which attempted after the grace, split too, and handed it on in its
    // own cleanup: one split round per waiter, through the whole queue (lockbench
    // fair-handoff --procs 16: 0.56-0.59 split rounds per handoff in half the runs). What a
    // minority granted is no handoff: its cleanup only deletes our token.
    const QString resource = QStringLiteral("push-split-chain");
    std::vector<std::unique_ptr<LockManager>> managers;
    std::vector<std::unique_ptr<DistributedLock>> waiters;
    managers.push_back(makeManager(m_cluster.urls(), 10000));
    const QByteArray key = LockManagerPrivate::get(managers.front().get())->keysFor({ resource }).constFirst();
    for (int i = 0; i < m_cluster.size(); ++i)
        QCOMPARE(m_cluster.at(i).command({ "SET", key, "foreign", "PX", "8000" }).toByteArray(), QByteArray("OK"));
    int splits = 0;
    for (int i = 0; i < 4; ++i) {
        if (i > 0)
            managers.push_back(makeManager(m_cluster.urls(), 10000));
        waiters.push_back(makeLock(managers.back().get(), resource));
        DistributedLock *w = waiters.back().get();
        QObject::connect(w, &DistributedLock::serverStatusChanged, w, [&splits, w] {
            if (w->state() != DistributedLock::State::Acquiring)
                return;
            int granted = 0;
            for (const auto &o : w->serverOutcomes()) {
                if (o.result == DistributedLock::ServerResult::Pending)
                    return;
                granted += o.result == DistributedLock::ServerResult::Granted ? 1 : 0;
            }
            splits += granted > 0 && granted < 2 ? 1 : 0;
        });
        w->acquire();
        const QRedlock::DistributedLockPrivate *d = QRedlock::DistributedLockPrivate::get(w);
        QTRY_VERIFY_WITH_TIMEOUT(d->queued && !d->attemptInFlight, 3000); // queued on every server
    }
    QCOMPARE(splits, 0);
    QCOMPARE(m_cluster.at(0).command({ "DEL", key }).toLongLong(), 1);
    QTest::qWait(100); // the waiters hear of it, look, and find the holder on the others
    auto newcomerManager = makeManager(m_cluster.urls(), 10000);
    auto newcomer = makeLock(newcomerManager.get(), resource);
    newcomer->acquire(); // its plain SET NX takes server 1 only
    QTest::qWait(600);
    qInfo("split rounds of the waiters after the newcomer's: %d", splits);
    QCOMPARE(splits, 0);
    for (const auto &w : waiters)
        QVERIFY(!w->isLocked());
    newcomer->release();
    for (const auto &w : waiters)
        w->release();
    for (int i = 0; i < m_cluster.size(); ++i)
        m_cluster.at(i).command({ "DEL", key });
}

void tst_Push::lost_onDeletesOneServerAtATime()
{
    // Another client (an operator's `qredlock release`, whose requests reach the servers one
    // after another) deletes the holder's key on one server, then on the next. Each deletion
    // was reported, the re-check found one server missing, and the renewed lock re-created
    // the key there at once, as after a restart: every key came back, and the lock held on
    // for good (CI: tst_clistatus tlsUnixSocketAndAuth, the holder never stopped). A write
    // that a live server reports is not repaired at once; a restarted server's loss still is
    // (tst_reliability rollingRestart_keepsEveryLock).
    auto m = makeManager(m_cluster.urls(), 200);
    auto a = makeLock(m.get(), QStringLiteral("push-lost-one-at-a-time"));
    a->setAutoExtend(true);
    QVERIFY(acquireNow(*a));
    QTest::qWait(200); // tracking is on
    const QByteArray key = LockManagerPrivate::get(m.get())->keysFor({ a->resource() }).constFirst();
    QSignalSpy lost(a.get(), &DistributedLock::lost);
    QCOMPARE(m_cluster.at(0).command({ "DEL", key }).toLongLong(), 1);
    QTest::qWait(150); // reported and re-checked: two servers still confirm it
    QVERIFY(a->isLocked());
    QVERIFY2(!m_cluster.at(0).command({ "GET", key }).isValid(), "re-created after another client's delete");
    QCOMPARE(m_cluster.at(1).command({ "DEL", key }).toLongLong(), 1);
    QTRY_VERIFY_WITH_TIMEOUT(!lost.isEmpty(), 2000);
    QTRY_VERIFY_WITH_TIMEOUT(!m_cluster.at(2).command({ "GET", key }).isValid(), 2000); // its cleanup
}

QTEST_GUILESS_MAIN(tst_Push)
void tst_Push::shortHolds_costNoWatch()
{
    // A lock released within LockManagerPrivate::WatchDelayMs of its grant never starts its
    // watch: with notifications on, a short acquire/release cycle sends the servers what it
    // sends with them off (before, every grant added a GET on every server).
    RedisCluster cluster;
    QVERIFY2(cluster.start(3), qPrintable(cluster.errorString()));
    constexpr int Cycles = 40;
    qint64 calls[2] = { 0, 0 };
    for (int push = 0; push < 2; ++push) {
        auto m = makeManager(cluster.urls(), 200);
        m->setNotifications(push == 1);
        auto lock = makeLock(m.get(), QStringLiteral("push-short-%1").arg(push));
        QVERIFY(acquireNow(*lock)); // warm-up: scripts loaded, connections ready
        QSignalSpy released(lock.get(), &DistributedLock::released);
        lock->release();
        QTRY_COMPARE(released.count(), 1);
        const qint64 c0 = commandCalls(cluster);
        for (int i = 0; i < Cycles; ++i) {
            QVERIFY(acquireNow(*lock));
            lock->release();
            QTRY_COMPARE(released.count(), i + 2);
        }
        QTest::qWait(3 * LockManagerPrivate::WatchDelayMs); // a watch that did start would read now
        calls[push] = commandCalls(cluster) - c0 - cluster.size();
    }
    qInfo("%d short cycles: %lld commands polling, %lld with notifications", Cycles, qlonglong(calls[0]),
          qlonglong(calls[1]));
    QVERIFY(calls[0] > 0);
    QVERIFY2(calls[1] <= calls[0] + Cycles / 2,
             qPrintable(QStringLiteral("short holds cost %1 commands more with notifications").arg(calls[1] - calls[0])));
}

void tst_Push::lost_onForeignDeleteRightAfterTheGrant()
{
    // The watch begins a little after the grant; a change before that is caught by its first
    // read (it compares the token), so lost() still comes at once.
    auto m = makeManager(m_cluster.urls(), 200);
    auto a = makeLock(m.get(), QStringLiteral("push-lost-early"));
    a->setAutoExtend(true);
    QSignalSpy lost(a.get(), &DistributedLock::lost);
    QVERIFY(acquireNow(*a));
    QElapsedTimer t;
    t.start();
    m_cluster.at(0).command({ "DEL", "push-lost-early" });
    m_cluster.at(1).command({ "DEL", "push-lost-early" });
    QTRY_VERIFY_WITH_TIMEOUT(!lost.isEmpty(), 5000);
    qInfo("foreign delete right after the grant to lost(): %lld ms", qlonglong(t.elapsed()));
    QVERIFY(t.elapsed() < 500);
}

#include "tst_push.moc"
