// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// ScopedLock against real redis-server processes: blocking acquisition in worker threads
// with the LockManager on the main thread, timeouts, exclusion, release on destruction,
// auto-extension, loss, refusals.
#include <QRedlock/LockManager>
#include <QRedlock/ScopedLock>

#include "lockhelpers.h"
#include "redisserver.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QThread>
#include <QtTest/QTest>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

using namespace std::chrono_literals;
using QRedlock::LockManager;
using QRedlock::ScopedLock;
using QRedlockTest::RedisCluster;
using QRedlockTest::RedisServer;
using QRedlockTest::makeManager;

namespace {

// Runs fn in a new thread; finish() waits for it while the main thread's event loop
// (the manager's) keeps running.
class Worker
{
public:
    explicit Worker(std::function<void()> fn) : m_thread(QThread::create(std::move(fn))) { m_thread->start(); }
    ~Worker() { finish(); }
    bool finish(int timeoutMs = 20000)
    {
        const bool ok = QTest::qWaitFor([this] { return m_thread->isFinished(); }, timeoutMs);
        if (ok)
            m_thread->wait();
        return ok;
    }

private:
    std::unique_ptr<QThread> m_thread;
};

// A worker thread that takes a ScopedLock and keeps it until letGo.
class Holder
{
public:
    Holder(LockManager *m, const QString &resource, std::chrono::milliseconds ttl, std::chrono::milliseconds timeout)
        : m_worker([this, m, resource, ttl, timeout] {
              QElapsedTimer t;
              t.start();
              ScopedLock lock(m, resource, ttl, timeout);
              elapsedMs = t.elapsed();
              lockedAtStart = lock.isLocked();
              token = lock.token();
              error = lock.errorString();
              this->lock = &lock;
              ready = true;
              QElapsedTimer bound;
              bound.start();
              while (!letGo && bound.elapsed() < 30000)
                  QThread::msleep(1);
              this->lock = nullptr;
          })
    {
    }
    ~Holder() { release(); }
    bool waitReady() { return QTest::qWaitFor([this] { return ready.load(); }, 20000); }
    // Lets the worker leave its scope (the destructor releases) and waits for it.
    bool release()
    {
        letGo = true;
        return m_worker.finish();
    }

    std::atomic<bool> ready { false };
    std::atomic<bool> letGo { false };
    std::atomic<ScopedLock *> lock { nullptr };
    qint64 elapsedMs = -1;
    bool lockedAtStart = false;
    QByteArray token;
    QString error;

private:
    Worker m_worker;
};

} // namespace

class tst_ScopedLock : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void acquireInWorkerAndReleaseOnDestruction();
    void timeoutWhenHeldElsewhere();
    void stuckManagerThread();
    void exclusion();
    void unlockIsIdempotent();
    void refusedOnManagerThread();
    void badArguments_data();
    void badArguments();
    void autoExtension();
    void lossFlipsIsLocked();
    void move();
    void fencing();

private:
    int keysOnServers(const QByteArray &key);
    RedisCluster m_cluster;
};

int tst_ScopedLock::keysOnServers(const QByteArray &key)
{
    int n = 0;
    for (int i = 0; i < m_cluster.size(); ++i)
        n += int(m_cluster.at(i).command({ QByteArrayLiteral("EXISTS"), key }).toLongLong());
    return n;
}

void tst_ScopedLock::initTestCase()
{
    QVERIFY2(m_cluster.start(3), qPrintable(m_cluster.errorString()));
}

void tst_ScopedLock::init()
{
    for (int i = 0; i < m_cluster.size(); ++i)
        m_cluster.at(i).command({ QByteArrayLiteral("FLUSHALL") });
}

void tst_ScopedLock::acquireInWorkerAndReleaseOnDestruction()
{
    auto m = makeManager(m_cluster.urls());
    Holder h(m.get(), QStringLiteral("worker"), 5s, 2s);
    QVERIFY(h.waitReady());
    QVERIFY2(h.lockedAtStart, qPrintable(h.error));
    QVERIFY(h.error.isEmpty());
    QVERIFY(!h.token.isEmpty());
    QCOMPARE(h.lock.load()->fencingToken(), qint64(-1));
    for (int i = 0; i < m_cluster.size(); ++i)
        QCOMPARE(m_cluster.at(i).command({ QByteArrayLiteral("GET"), QByteArrayLiteral("worker") }).toByteArray(),
                 h.token);
    // The destructor waits for the release round: the keys are gone once the worker is done.
    QVERIFY(h.release());
    QCOMPARE(keysOnServers("worker"), 0);
}

void tst_ScopedLock::timeoutWhenHeldElsewhere()
{
    for (int i = 0; i < m_cluster.size(); ++i)
        m_cluster.at(i).command({ "SET", "busy", "someone-else", "PX", "60000" });
    auto m = makeManager(m_cluster.urls());
    Holder h(m.get(), QStringLiteral("busy"), 5s, 500ms);
    QVERIFY(h.waitReady());
    QVERIFY(!h.lockedAtStart);
    QVERIFY2(h.elapsedMs >= 480 && h.elapsedMs < 1500, qPrintable(QString::number(h.elapsedMs)));
    QVERIFY2(h.error.contains(QStringLiteral("not acquired")), qPrintable(h.error));
    QVERIFY(!h.lock.load()->isLocked());
    QVERIFY(h.release());
    QTest::qWait(50);
    for (int i = 0; i < m_cluster.size(); ++i) {
        QCOMPARE(m_cluster.at(i).command({ "GET", "busy" }).toByteArray(), QByteArray("someone-else"));
        QCOMPARE(m_cluster.at(i).command({ "DBSIZE" }).toLongLong(), 1); // nothing of ours left
    }
}

void tst_ScopedLock::stuckManagerThread()
{
    // The manager's thread (this one) runs no event loop for a while: the worker gives up
    // after timeout + a bounded grace, and nothing is left behind once the thread runs again.
    auto m = makeManager(m_cluster.urls());
    const auto allConnected = [&m] {
        const QVariantList status = m->serverStatus();
        return std::all_of(status.cbegin(), status.cend(),
                           [](const QVariant &s) { return s.toMap().value(QStringLiteral("connected")).toBool(); });
    };
    QTRY_VERIFY_WITH_TIMEOUT(allConnected(), 5000); // first: the pause below is no connect timeout
    std::atomic<bool> done { false };
    qint64 elapsed = -1;
    bool locked = true;
    QString error;
    Worker w([&] {
        QElapsedTimer t;
        t.start();
        ScopedLock lock(m.get(), QStringLiteral("stuck"), 5s, 100ms);
        elapsed = t.elapsed();
        locked = lock.isLocked();
        error = lock.errorString();
        done = true;
    });
    QElapsedTimer t;
    t.start();
    while (!done && t.elapsed() < 5000)
        QThread::msleep(5); // blocks the manager's thread
    QVERIFY(done.load());
    QVERIFY(w.finish());
    QVERIFY(!locked);
    QVERIFY2(elapsed >= 100 && elapsed < 2000, qPrintable(QString::number(elapsed)));
    QVERIFY2(error.contains(QStringLiteral("did not respond")), qPrintable(error));
    QTest::qWait(300); // the queued functors run now, and must not take the lock
    QCOMPARE(keysOnServers("stuck"), 0);
}

void tst_ScopedLock::exclusion()
{
    auto m = makeManager(m_cluster.urls());
    constexpr int Iterations = 6;
    std::atomic<int> inside { 0 };
    std::atomic<int> overlaps { 0 };
    std::atomic<int> failures { 0 };
    int counter = 0; // guarded by the distributed lock only
    const auto body = [&] {
        for (int i = 0; i < Iterations; ++i) {
            ScopedLock lock(m.get(), QStringLiteral("exclusive"), 5s, 10s);
            if (!lock.isLocked()) {
                ++failures;
                continue;
            }
            if (inside.fetch_add(1) != 0)
                ++overlaps;
            const int seen = counter;
            QThread::msleep(15);
            counter = seen + 1;
            inside.fetch_sub(1);
        }
    };
    Worker a(body);
    Worker b(body);
    QVERIFY(a.finish(60000));
    QVERIFY(b.finish(60000));
    QCOMPARE(overlaps.load(), 0);
    QCOMPARE(failures.load(), 0);
    QCOMPARE(counter, 2 * Iterations);
    QCOMPARE(keysOnServers("exclusive"), 0);
}

void tst_ScopedLock::unlockIsIdempotent()
{
    auto m = makeManager(m_cluster.urls());
    bool before = false, after = true, afterAgain = true;
    QString error = QStringLiteral("unset");
    int keysAfterUnlock = -1;
    std::atomic<bool> unlocked { false };
    std::atomic<bool> checked { false };
    Worker w([&] {
        ScopedLock lock(m.get(), QStringLiteral("idem"), 5s, 2s);
        before = lock.isLocked();
        lock.unlock();
        after = lock.isLocked();
        unlocked = true;
        QElapsedTimer bound;
        bound.start();
        while (!checked && bound.elapsed() < 10000)
            QThread::msleep(1);
        lock.unlock();
        lock.unlock();
        afterAgain = lock.isLocked();
        error = lock.errorString();
    });
    QVERIFY(QTest::qWaitFor([&] { return unlocked.load(); }, 10000));
    keysAfterUnlock = keysOnServers("idem"); // unlock() returned after the release round
    checked = true;
    QVERIFY(w.finish());
    QVERIFY(before);
    QVERIFY(!after);
    QVERIFY(!afterAgain);
    QCOMPARE(keysAfterUnlock, 0);
    QVERIFY2(error.isEmpty(), qPrintable(error));
}

void tst_ScopedLock::refusedOnManagerThread()
{
    auto m = makeManager(m_cluster.urls());
    QElapsedTimer t;
    t.start();
    {
        ScopedLock lock(m.get(), QStringLiteral("here"), 5s, 5s);
        QVERIFY(!lock.isLocked());
        QCOMPARE(lock.errorString(),
                 QStringLiteral("ScopedLock must not be used on the LockManager's thread: it would block the event loop it needs"));
        lock.unlock();
    }
    QVERIFY2(t.elapsed() < 200, qPrintable(QString::number(t.elapsed())));
    QCOMPARE(keysOnServers("here"), 0);
}

void tst_ScopedLock::badArguments_data()
{
    QTest::addColumn<bool>("nullManager");
    QTest::addColumn<QString>("resource");
    QTest::addColumn<qint64>("ttl");
    QTest::addColumn<qint64>("timeout");
    QTest::addColumn<QString>("expected");
    const QString r = QStringLiteral("bad");
    QTest::newRow("null manager") << true << r << qint64(5000) << qint64(1000) << QStringLiteral("null");
    QTest::newRow("empty resource") << false << QString() << qint64(5000) << qint64(1000) << QStringLiteral("resource");
    QTest::newRow("zero ttl") << false << r << qint64(0) << qint64(1000) << QStringLiteral("TTL");
    QTest::newRow("ttl below minimum") << false << r << qint64(100) << qint64(1000) << QStringLiteral("minimum");
    QTest::newRow("ttl above int") << false << r << qint64(INT_MAX) + 1 << qint64(1000) << QStringLiteral("TTL");
    QTest::newRow("negative timeout") << false << r << qint64(5000) << qint64(-1) << QStringLiteral("timeout");
}

void tst_ScopedLock::badArguments()
{
    QFETCH(bool, nullManager);
    QFETCH(QString, resource);
    QFETCH(qint64, ttl);
    QFETCH(qint64, timeout);
    QFETCH(QString, expected);
    auto m = makeManager(m_cluster.urls());
    LockManager *manager = nullManager ? nullptr : m.get();
    bool locked = true;
    QString error;
    qint64 elapsed = -1;
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(".")));
    Worker w([&] {
        QElapsedTimer t;
        t.start();
        ScopedLock lock(manager, resource, std::chrono::milliseconds(ttl), std::chrono::milliseconds(timeout));
        elapsed = t.elapsed();
        locked = lock.isLocked();
        error = lock.errorString();
    });
    QVERIFY(w.finish());
    QVERIFY(!locked);
    QVERIFY2(error.contains(expected), qPrintable(error));
    QVERIFY2(elapsed < 200, qPrintable(QString::number(elapsed)));
    QCOMPARE(keysOnServers("bad"), 0);
}

void tst_ScopedLock::autoExtension()
{
    auto m = makeManager(m_cluster.urls());
    Holder h(m.get(), QStringLiteral("long"), 1200ms, 2s);
    QVERIFY(h.waitReady());
    QVERIFY2(h.lockedAtStart, qPrintable(h.error));
    QTest::qWait(3000); // 2.5 TTLs
    QVERIFY(h.lock.load()->isLocked());
    for (int i = 0; i < m_cluster.size(); ++i) {
        QCOMPARE(m_cluster.at(i).command({ "GET", "long" }).toByteArray(), h.token);
        QVERIFY(m_cluster.at(i).command({ "PTTL", "long" }).toLongLong() > 0);
    }
    QVERIFY(h.release());
    QCOMPARE(keysOnServers("long"), 0);
}

void tst_ScopedLock::lossFlipsIsLocked()
{
    auto m = makeManager(m_cluster.urls());
    Holder h(m.get(), QStringLiteral("gone"), 1200ms, 2s);
    QVERIFY(h.waitReady());
    QVERIFY2(h.lockedAtStart, qPrintable(h.error));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("lost")));
    for (int i = 0; i < m_cluster.size(); ++i)
        m_cluster.at(i).command({ "DEL", "gone" });
    // The next extension (at a third of the TTL) finds the loss; the validity bounds it anyway.
    QTRY_VERIFY_WITH_TIMEOUT(!h.lock.load()->isLocked(), 1500);
    QVERIFY2(h.lock.load()->errorString().contains(QStringLiteral("lost")), qPrintable(h.lock.load()->errorString()));
    QVERIFY(h.release());
    QCOMPARE(keysOnServers("gone"), 0);
}

void tst_ScopedLock::move()
{
    auto m = makeManager(m_cluster.urls());
    bool aAfterMove = true, bAfterMove = false, bReassigned = false;
    int keysOfFirst = -1;
    std::atomic<bool> moved { false };
    std::atomic<bool> checked { false };
    Worker w([&] {
        ScopedLock a(m.get(), QStringLiteral("first"), 5s, 2s);
        ScopedLock b(std::move(a));
        aAfterMove = a.isLocked(); // NOLINT(bugprone-use-after-move): a moved-from lock holds nothing
        bAfterMove = b.isLocked();
        b = ScopedLock(m.get(), QStringLiteral("second"), 5s, 2s); // releases "first" first
        bReassigned = b.isLocked();
        moved = true;
        QElapsedTimer bound;
        bound.start();
        while (!checked && bound.elapsed() < 10000)
            QThread::msleep(1);
    });
    QVERIFY(QTest::qWaitFor([&] { return moved.load(); }, 10000));
    keysOfFirst = keysOnServers("first");
    QCOMPARE(keysOnServers("second"), m_cluster.size());
    checked = true;
    QVERIFY(w.finish());
    QVERIFY(!aAfterMove);
    QVERIFY(bAfterMove);
    QVERIFY(bReassigned);
    QCOMPARE(keysOfFirst, 0);
    QCOMPARE(keysOnServers("second"), 0);
}

void tst_ScopedLock::fencing()
{
    auto m = makeManager(m_cluster.urls());
    qint64 first = -1, second = -1;
    bool locked = false;
    Worker w([&] {
        {
            ScopedLock lock(m.get(), QStringLiteral("fenced"), 5s, 2s, ScopedLock::Option::Fencing);
            locked = lock.isLocked();
            first = lock.fencingToken();
        }
        ScopedLock again(m.get(), QStringLiteral("fenced"), 5s, 2s, ScopedLock::Option::Fencing);
        second = again.fencingToken();
    });
    QVERIFY(w.finish());
    QVERIFY(locked);
    QVERIFY2(first >= 1, qPrintable(QString::number(first)));
    QVERIFY2(second > first, qPrintable(QString::number(second)));
    QCOMPARE(keysOnServers("fenced"), 0);
}

QTEST_GUILESS_MAIN(tst_ScopedLock)
#include "tst_scopedlock.moc"
