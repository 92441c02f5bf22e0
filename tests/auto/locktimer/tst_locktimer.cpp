// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// LockTimer / LockTimerQueue: order, stop, restart and destruction from a callback, coarse
// batching, many timers, one queue per thread.
#include "locktimer_p.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QThread>
#include <QtTest/QTest>

#include <memory>
#include <vector>

using QRedlock::LockTimer;
using QRedlock::LockTimerQueue;

class tst_LockTimer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void firesInDeadlineOrder();
    void preciseTimerIsNeverEarly();
    void stopPreventsFiring();
    void callbackMayRestartOrDestroyItsTimer();
    void coarseTimersBatchWithinSlack();
    void tenThousandTimers();
    void oneQueuePerThread();
};

void tst_LockTimer::firesInDeadlineOrder()
{
    QList<int> order;
    std::vector<std::unique_ptr<LockTimer>> timers;
    const int delays[] = { 40, 10, 30, 20, 0 };
    for (int i = 0; i < 5; ++i) {
        timers.push_back(std::make_unique<LockTimer>([&order, i] { order << i; }));
        timers.back()->start(delays[i], Qt::PreciseTimer);
    }
    QTRY_COMPARE(order.size(), 5);
    QCOMPARE(order, (QList<int> { 4, 1, 3, 2, 0 }));
    for (const auto &t : timers)
        QVERIFY(!t->isActive()); // single-shot
}

void tst_LockTimer::preciseTimerIsNeverEarly()
{
    QElapsedTimer clock;
    qint64 at = -1;
    LockTimer t([&] { at = clock.elapsed(); });
    clock.start();
    t.start(50, Qt::PreciseTimer);
    QVERIFY(t.isActive());
    QTRY_VERIFY(at >= 0);
    QVERIFY2(at >= 50 && at < 80, qPrintable(QString::number(at)));
}

void tst_LockTimer::stopPreventsFiring()
{
    int fired = 0;
    LockTimer t([&] { ++fired; });
    t.start(10, Qt::PreciseTimer);
    t.stop();
    QVERIFY(!t.isActive());
    {
        LockTimer gone([&] { ++fired; }); // destroyed while queued: removed
        gone.start(5, Qt::PreciseTimer);
    }
    QTest::qWait(50);
    QCOMPARE(fired, 0);
}

void tst_LockTimer::callbackMayRestartOrDestroyItsTimer()
{
    int repeats = 0;
    std::unique_ptr<LockTimer> again;
    again = std::make_unique<LockTimer>([&] {
        if (++repeats < 3)
            again->start(5, Qt::PreciseTimer);
    });
    again->start(5, Qt::PreciseTimer);
    QTRY_COMPARE(repeats, 3);
    QTest::qWait(30);
    QCOMPARE(repeats, 3);
    QVERIFY(!again->isActive());

    bool destroyedInCallback = false;
    int others = 0;
    std::unique_ptr<LockTimer> self;
    self = std::make_unique<LockTimer>([&] {
        self.reset(); // the owner goes away inside its own callback
        destroyedInCallback = true;
    });
    LockTimer other([&] { ++others; });
    self->start(5, Qt::PreciseTimer);
    other.start(5, Qt::PreciseTimer);
    QTRY_VERIFY(destroyedInCallback && others == 1);
}

void tst_LockTimer::coarseTimersBatchWithinSlack()
{
    // A precise timer fires; a coarse one due 3 ms later goes in the same batch.
    QElapsedTimer clock;
    qint64 preciseAt = -1;
    qint64 coarseAt = -1;
    LockTimer precise([&] { preciseAt = clock.elapsed(); });
    LockTimer coarse([&] { coarseAt = clock.elapsed(); });
    clock.start();
    precise.start(30, Qt::PreciseTimer);
    coarse.start(33, Qt::CoarseTimer);
    QTRY_VERIFY(preciseAt >= 0 && coarseAt >= 0);
    QVERIFY2(coarseAt - preciseAt <= 1, qPrintable(QStringLiteral("%1 / %2").arg(preciseAt).arg(coarseAt)));
}

void tst_LockTimer::tenThousandTimers()
{
    constexpr int Count = 10000;
    int fired = 0;
    std::vector<std::unique_ptr<LockTimer>> timers;
    timers.reserve(Count);
    for (int i = 0; i < Count; ++i) {
        timers.push_back(std::make_unique<LockTimer>([&fired] { ++fired; }));
        timers.back()->start(i % 50, i % 2 ? Qt::CoarseTimer : Qt::PreciseTimer);
    }
    for (int i = 0; i < Count; i += 2) // every other one restarted: each start replaces the last
        timers[size_t(i)]->start(60, Qt::PreciseTimer);
    QCOMPARE(LockTimerQueue::forThisThread()->size(), Count);
    QTRY_COMPARE_WITH_TIMEOUT(fired, Count, 5000);
    QCOMPARE(LockTimerQueue::forThisThread()->size(), 0);
}

void tst_LockTimer::oneQueuePerThread()
{
    LockTimerQueue *mine = LockTimerQueue::forThisThread();
    LockTimerQueue *theirs = nullptr;
    bool firedThere = false;
    std::unique_ptr<QThread> thread(QThread::create([&] {
        theirs = LockTimerQueue::forThisThread();
        QEventLoop loop;
        LockTimer t([&] {
            firedThere = true;
            loop.quit();
        });
        t.start(5, Qt::PreciseTimer);
        loop.exec();
    }));
    thread->start();
    QVERIFY(thread->wait(5000));
    QVERIFY(firedThere);
    QVERIFY(theirs && theirs != mine);
}

QTEST_GUILESS_MAIN(tst_LockTimer)
#include "tst_locktimer.moc"
