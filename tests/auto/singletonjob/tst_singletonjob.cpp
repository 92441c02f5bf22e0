// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// SingletonJob against three real redis-server processes: once per period across instances,
// lockAtLeastFor, lockAtMostFor, cancellation when the lock is lost or its lease cannot be
// kept, interval mode, skipped(), and JobContext from a worker thread.

#include "redisserver.h"

#include <QRedlock/DistributedLock>
#include <QRedlock/LockManager>
#include <QRedlock/SingletonJob>

#include <QElapsedTimer>
#include <QPointer>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

using namespace QRedlock;
using QRedlockTest::RedisCluster;

namespace {

constexpr double DriftFactor = 0.01; // LockManager's default

// One application instance: its own manager (own connections) and its job.
struct Instance
{
    std::unique_ptr<LockManager> manager;
    std::unique_ptr<SingletonJob> job;
};

// A run as the test saw it.
struct RunRecord
{
    int instance;
    qint64 wallMs;    // wall clock at run()
    qint64 startMs;   // test clock at run()
    qint64 endMs = -1;
};

QList<QByteArray> args(std::initializer_list<QByteArray> list) { return QList<QByteArray>(list); }

QString describe(const std::vector<RunRecord> &runs)
{
    QString out;
    for (const RunRecord &r : runs)
        out += QStringLiteral(" %1:%2-%3(wall %4)").arg(r.instance).arg(r.startMs).arg(r.endMs).arg(r.wallMs);
    return out;
}

} // namespace

class tst_SingletonJob : public QObject
{
    Q_OBJECT

private:
    Instance makeInstance(const QString &resource, int serverTimeout = 250);
    bool allServersLack(const QByteArray &key);

    RedisCluster m_cluster;
    int m_resourceSerial = 0;
    QString freshResource(const char *name)
    {
        return QStringLiteral("tst-job:%1:%2").arg(QLatin1String(name)).arg(++m_resourceSerial);
    }

private Q_SLOTS:
    void initTestCase();
    void cleanup();

    void oncePerPeriod_threeInstancesRunOncePerPeriod_data();
    void oncePerPeriod_threeInstancesRunOncePerPeriod();
    void oncePerPeriod_heldAfterShutdown();
    void oncePerPeriod_lateGrantDoesNotRun();
    void interval_repeats();
    void interval_threeInstancesNeverOverlap();
    void lockAtLeastFor_holdsAfterFastRun();
    void skipped_whenHeldElsewhere();
    void splitVote_retriedUntilResolved();
    void cancelled_atLockAtMostFor();
    void cancelled_whenMajorityPaused();
    void cancelled_whenLockLost();
    void outcome_fromWorkerThread_data();
    void outcome_fromWorkerThread();
    void failed_releasesAtOnce();
    void active_schedulesAndStops();
    void misconfigured_doesNotRun();
};

void tst_SingletonJob::initTestCase()
{
    QVERIFY2(m_cluster.start(3),
             qPrintable(QStringLiteral("cannot start 3 redis-server processes (is redis-server installed? "
                                       "run scripts/setup): ") + m_cluster.errorString()));
}

void tst_SingletonJob::cleanup()
{
    for (int i = 0; i < m_cluster.size(); ++i) {
        if (m_cluster.at(i).isPaused())
            m_cluster.at(i).resume();
    }
}

Instance tst_SingletonJob::makeInstance(const QString &resource, int serverTimeout)
{
    Instance in;
    in.manager = std::make_unique<LockManager>();
    if (!in.manager->setServers(m_cluster.urls()))
        qWarning("setServers: %s", qPrintable(in.manager->errorString()));
    in.manager->setServerTimeout(serverTimeout);
    in.job = std::make_unique<SingletonJob>();
    in.job->setManager(in.manager.get());
    in.job->setResource(resource);
    return in;
}

bool tst_SingletonJob::allServersLack(const QByteArray &key)
{
    for (int i = 0; i < m_cluster.size(); ++i) {
        if (m_cluster.at(i).command(args({ "EXISTS", key })) != QVariant(qint64(0)))
            return false;
    }
    return true;
}

// Three instances, one resource, a 1 s period for about four periods: every period that
// lies wholly inside the observation has exactly one run, and no period has two.
void tst_SingletonJob::oncePerPeriod_threeInstancesRunOncePerPeriod_data()
{
    QTest::addColumn<int>("workMs");
    QTest::addColumn<int>("retryInterval");
    QTest::newRow("instant job, attempts only at period starts") << 0 << 0;
    QTest::newRow("instant job, retries within the period") << 0 << 150;
    QTest::newRow("300 ms job, retries within the period") << 300 << 150;
}

void tst_SingletonJob::oncePerPeriod_threeInstancesRunOncePerPeriod()
{
    QFETCH(int, workMs);
    QFETCH(int, retryInterval);
    constexpr int Period = 1000;
    const QString resource = freshResource("period");

    QElapsedTimer clock;
    clock.start();
    std::vector<RunRecord> runs;
    std::vector<Instance> instances;
    int concurrent = 0;
    for (int i = 0; i < 3; ++i) {
        instances.push_back(makeInstance(resource));
        SingletonJob *job = instances.back().job.get();
        job->setOncePerPeriod(Period);
        job->setInterval(retryInterval);
        job->setLockAtMostFor(5000);
        job->setLockAtLeastFor(100);
        job->setJob([&, i, workMs](JobContext &ctx) {
            runs.push_back({ i, QDateTime::currentMSecsSinceEpoch(), clock.elapsed() });
            ++concurrent;
            const size_t index = runs.size() - 1;
            auto done = [&, index, ctx]() mutable {
                --concurrent;
                runs[index].endMs = clock.elapsed();
                ctx.finish();
            };
            if (workMs == 0)
                done();
            else
                QTimer::singleShot(workMs, instances[size_t(i)].job.get(), done);
        });
    }
    const qint64 firstWall = QDateTime::currentMSecsSinceEpoch();
    for (Instance &in : instances)
        in.job->setActive(true);
    QTest::qWait(4 * Period + Period / 2);
    for (Instance &in : instances)
        in.job->setActive(false);
    const qint64 lastWall = QDateTime::currentMSecsSinceEpoch();
    QTRY_COMPARE_WITH_TIMEOUT(concurrent, 0, 2000);

    QMap<qint64, int> perPeriod;
    for (const RunRecord &r : runs)
        ++perPeriod[r.wallMs / Period];
    QString seen;
    for (auto it = perPeriod.cbegin(); it != perPeriod.cend(); ++it)
        seen += QStringLiteral(" %1:%2").arg(it.key()).arg(it.value());
    const qint64 firstFull = firstWall / Period + 1;
    const qint64 lastFull = lastWall / Period - 1;
    QVERIFY2(lastFull - firstFull >= 2, "the observation should span at least three whole periods");
    for (qint64 p = firstWall / Period; p <= lastWall / Period; ++p) {
        const int n = perPeriod.value(p);
        QVERIFY2(n <= 1, qPrintable(QStringLiteral("period %1 ran %2 times; runs per period:%3").arg(p).arg(n).arg(seen)));
        if (p >= firstFull && p <= lastFull)
            QVERIFY2(n == 1, qPrintable(QStringLiteral("period %1 did not run; runs per period:%2").arg(p).arg(seen)));
    }
    // Runs of one period never overlap (at most one per period, above). Runs of two periods
    // may: a run that starts late in its period (a takeover after failed attempts) can
    // still be busy when the next period's run starts.
    for (size_t i = 1; i < runs.size(); ++i) {
        const RunRecord &a = runs[i - 1];
        const RunRecord &b = runs[i];
        const bool overlap = b.startMs < a.endMs;
        QVERIFY2(!overlap || a.wallMs / Period != b.wallMs / Period,
                 qPrintable(QStringLiteral("overlapping runs of one period:%1").arg(describe(runs))));
    }
    // The latest period's key is still held on the servers after the run finished.
    const QByteArray lastKey = QStringLiteral("%1:at:%2").arg(resource).arg(runs.back().wallMs / Period * Period).toUtf8();
    int holding = 0;
    for (int i = 0; i < m_cluster.size(); ++i)
        holding += m_cluster.at(i).command(args({ "EXISTS", lastKey })) == QVariant(qint64(1)) ? 1 : 0;
    QVERIFY2(holding >= 2 || QDateTime::currentMSecsSinceEpoch() / Period > runs.back().wallMs / Period,
             "a finished period's key must stay until the period is over");
}

// A run's period key survives a clean shutdown of the instance that ran it: a new instance
// in the same period is skipped, in the next period it runs.
void tst_SingletonJob::oncePerPeriod_heldAfterShutdown()
{
    constexpr int Period = 2500;
    // Start early in a period so the whole test fits in it.
    const qint64 into = QDateTime::currentMSecsSinceEpoch() % Period;
    if (into > Period / 5)
        QTest::qWait(int(Period - into + 20));
    const QString resource = freshResource("shutdown");
    auto lm = std::make_unique<LockManager>();
    QVERIFY(lm->setServers(m_cluster.urls()));
    {
        SingletonJob first;
        first.setManager(lm.get());
        first.setResource(resource);
        first.setOncePerPeriod(Period);
        first.setJob([](JobContext &ctx) { ctx.finish(); });
        QSignalSpy finished(&first, &SingletonJob::finished);
        first.trigger();
        QVERIFY(finished.wait(3000));
        QTest::qWait(100); // the hold's extension rounds
    } // destroyed: the lock must not be released

    Instance second = makeInstance(resource);
    second.job->setOncePerPeriod(Period);
    QSignalSpy run(second.job.get(), &SingletonJob::run);
    QSignalSpy skipped(second.job.get(), &SingletonJob::skipped);
    second.job->trigger();
    QVERIFY(skipped.wait(3000));
    QCOMPARE(run.count(), 0);
    QVERIFY2(second.job->errorString().contains(QLatin1String("held by another instance")),
             qPrintable(second.job->errorString()));
    lm.reset(); // the manager goes too: still no release
    const qint64 period = QDateTime::currentMSecsSinceEpoch() / Period;
    const QByteArray key = QStringLiteral("%1:at:%2").arg(resource).arg(period * Period).toUtf8();
    QVERIFY(!allServersLack(key));

    // Next period: a fresh key, the job runs.
    QTest::qWait(int(Period - QDateTime::currentMSecsSinceEpoch() % Period + 20));
    second.job->trigger();
    QVERIFY(run.wait(3000));
    second.job->finish();
}

// A previous runner holds the period's key on two servers until just after the period's
// end; an attempt shortly before the end sees a split (one server grants), retries, and is
// granted only after the period is over: it must not run that period again.
void tst_SingletonJob::oncePerPeriod_lateGrantDoesNotRun()
{
    constexpr int Period = 2000;
    const QString resource = freshResource("late");
    const qint64 into = QDateTime::currentMSecsSinceEpoch() % Period;
    QTest::qWait(int((Period - 150 - into + Period) % Period));
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const qint64 index = now / Period;
    const qint64 periodEnd = (index + 1) * Period;
    const QByteArray key = QStringLiteral("%1:at:%2").arg(resource).arg(index * Period).toUtf8();
    const QByteArray px = QByteArray::number(periodEnd + 50 - now);
    for (int i = 0; i < 2; ++i)
        QCOMPARE(m_cluster.at(i).command(args({ "SET", key, "earlier-runner", "PX", px })), QVariant(QByteArray("OK")));

    Instance in = makeInstance(resource);
    in.job->setOncePerPeriod(Period);
    QSignalSpy run(in.job.get(), &SingletonJob::run);
    QSignalSpy skipped(in.job.get(), &SingletonJob::skipped);
    in.job->trigger();
    QVERIFY(skipped.wait(3000));
    QCOMPARE(run.count(), 0);
    QVERIFY2(QDateTime::currentMSecsSinceEpoch() > periodEnd, "the attempt should have ended after the period");
    QVERIFY2(in.job->errorString().contains(QLatin1String("period was over")), qPrintable(in.job->errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(allServersLack(key), 2000); // the late grant was given back
}

void tst_SingletonJob::interval_repeats()
{
    Instance in = makeInstance(freshResource("interval"));
    in.job->setInterval(200);
    QSignalSpy run(in.job.get(), &SingletonJob::run);
    QSignalSpy lastRun(in.job.get(), &SingletonJob::lastRunChanged);
    connect(in.job.get(), &SingletonJob::run, in.job.get(), &SingletonJob::finish);
    in.job->setActive(true);
    QTest::qWait(1100);
    in.job->setActive(false);
    // Activation + 5 ticks; allow timer slack.
    QVERIFY2(run.count() >= 4 && run.count() <= 7, qPrintable(QString::number(run.count())));
    QCOMPARE(lastRun.count(), run.count());
    QVERIFY(in.job->lastRun().isValid());
    QVERIFY(qAbs(in.job->lastRun().msecsTo(QDateTime::currentDateTime())) < 1000);
    const int before = run.count();
    QTest::qWait(500);
    QCOMPARE(run.count(), before); // inactive: no more attempts
}

// Interval mode with lockAtLeastFor just under the interval: three instances never run at
// the same time and, together, no more often than once per lockAtLeastFor.
void tst_SingletonJob::interval_threeInstancesNeverOverlap()
{
    const QString resource = freshResource("interval3");
    constexpr int Interval = 300;
    constexpr int AtLeast = 280;
    QElapsedTimer clock;
    clock.start();
    std::vector<Instance> instances;
    QList<qint64> starts;
    for (int i = 0; i < 3; ++i) {
        instances.push_back(makeInstance(resource));
        SingletonJob *job = instances.back().job.get();
        job->setInterval(Interval);
        job->setLockAtLeastFor(AtLeast);
        job->setJob([&](JobContext &ctx) {
            starts.append(clock.elapsed());
            ctx.finish();
        });
    }
    for (Instance &in : instances) {
        in.job->setActive(true);
        QTest::qWait(97); // different phases
    }
    QTest::qWait(2000);
    for (Instance &in : instances)
        in.job->setActive(false);
    QVERIFY2(starts.size() >= 4, qPrintable(QString::number(starts.size())));
    for (int i = 1; i < starts.size(); ++i) {
        QVERIFY2(starts[i] - starts[i - 1] >= AtLeast - 5,
                 qPrintable(QStringLiteral("runs %1 ms apart, lockAtLeastFor is %2 ms")
                                    .arg(starts[i] - starts[i - 1]).arg(AtLeast)));
    }
}

void tst_SingletonJob::lockAtLeastFor_holdsAfterFastRun()
{
    const QString resource = freshResource("atleast");
    constexpr int AtLeast = 1500;
    Instance a = makeInstance(resource);
    Instance b = makeInstance(resource);
    a.job->setLockAtLeastFor(AtLeast);
    b.job->setLockAtLeastFor(AtLeast);
    a.job->setJob([](JobContext &ctx) { ctx.finish(); });
    b.job->setJob([](JobContext &ctx) { ctx.finish(); });
    QSignalSpy aRun(a.job.get(), &SingletonJob::run);
    QSignalSpy aSkipped(a.job.get(), &SingletonJob::skipped);
    QSignalSpy aFinished(a.job.get(), &SingletonJob::finished);
    QSignalSpy bRun(b.job.get(), &SingletonJob::run);
    QSignalSpy bSkipped(b.job.get(), &SingletonJob::skipped);

    QElapsedTimer sinceRun;
    connect(a.job.get(), &SingletonJob::run, this, [&] { sinceRun.start(); });
    a.job->trigger();
    QVERIFY(aFinished.wait(3000));
    QVERIFY(!a.job->isRunning());

    // The key stays on the servers with about the rest of the hold as TTL.
    QTest::qWait(100);
    const QVariant pttl = m_cluster.at(0).command(args({ "PTTL", resource.toUtf8() }));
    QVERIFY2(pttl.toLongLong() > 0 && pttl.toLongLong() <= AtLeast + 50, qPrintable(pttl.toString()));

    // Another instance, and this one again, cannot run within the hold.
    for (int at : { 300, 900 }) {
        QTest::qWait(int(at - sinceRun.elapsed()));
        b.job->trigger();
        QVERIFY(bSkipped.wait(2000));
        a.job->trigger(); // its own hold: neither a run nor a skip
    }
    QCOMPARE(bRun.count(), 0);
    QCOMPARE(aRun.count(), 1);
    QCOMPARE(aSkipped.count(), 0);
    QVERIFY2(sinceRun.elapsed() < AtLeast - 100, "the test was too slow to probe the hold");

    // After it, the other instance runs.
    QTest::qWait(int(AtLeast + 50 - sinceRun.elapsed()));
    b.job->trigger();
    QVERIFY(bRun.wait(2000));
}

void tst_SingletonJob::skipped_whenHeldElsewhere()
{
    const QString resource = freshResource("held");
    LockManager lm;
    QVERIFY(lm.setServers(m_cluster.urls()));
    DistributedLock holder;
    holder.setManager(&lm);
    holder.setResource(resource);
    holder.setTtl(10000);
    QSignalSpy acquired(&holder, &DistributedLock::acquired);
    holder.tryAcquire();
    QVERIFY(acquired.wait(3000));

    Instance in = makeInstance(resource);
    QSignalSpy run(in.job.get(), &SingletonJob::run);
    QSignalSpy skipped(in.job.get(), &SingletonJob::skipped);
    QElapsedTimer sinceTrigger;
    sinceTrigger.start();
    in.job->trigger();
    QVERIFY(skipped.wait(3000));
    // Every server refused: a holder, not a split vote, so no retries.
    QVERIFY2(sinceTrigger.elapsed() < 100, qPrintable(QString::number(sinceTrigger.elapsed())));
    QCOMPARE(run.count(), 0);
    QVERIFY(!in.job->isRunning());
    QVERIFY(in.job->errorString().contains(QLatin1String("held by another instance")));

    QSignalSpy released(&holder, &DistributedLock::released);
    holder.release();
    QVERIFY(released.wait(3000));
    in.job->trigger();
    QVERIFY(run.wait(3000));
    QVERIFY(in.job->isRunning());
    QVERIFY(in.job->errorString().isEmpty());
    in.job->finish();
    QVERIFY(!in.job->isRunning());
}

// Two other contenders hold one server each (a split: nobody has a quorum) for 250 ms; the
// job gets the third server, retries after random pauses, and runs once they are gone.
void tst_SingletonJob::splitVote_retriedUntilResolved()
{
    const QString resource = freshResource("split");
    const QByteArray key = resource.toUtf8();
    QCOMPARE(m_cluster.at(0).command(args({ "SET", key, "contender-1", "PX", "250" })), QVariant(QByteArray("OK")));
    QCOMPARE(m_cluster.at(1).command(args({ "SET", key, "contender-2", "PX", "250" })), QVariant(QByteArray("OK")));
    Instance in = makeInstance(resource);
    QSignalSpy run(in.job.get(), &SingletonJob::run);
    QSignalSpy skipped(in.job.get(), &SingletonJob::skipped);
    in.job->trigger();
    QVERIFY(run.wait(3000));
    QCOMPARE(skipped.count(), 0);
    in.job->finish();
}

// A job that never finishes is cancelled when lockAtMostFor has passed, and its lock is
// released so another instance can run.
void tst_SingletonJob::cancelled_atLockAtMostFor()
{
    const QString resource = freshResource("atmost");
    constexpr int AtMost = 800;
    Instance a = makeInstance(resource, 100); // a TTL of 800 ms needs a server timeout <= 199 ms
    a.job->setLockAtMostFor(AtMost);
    JobContext context;
    a.job->setJob([&context](JobContext &ctx) { context = ctx; }); // never finishes
    QSignalSpy cancelled(a.job.get(), &SingletonJob::cancelled);
    QSignalSpy finished(a.job.get(), &SingletonJob::finished);
    QElapsedTimer sinceRun;
    connect(a.job.get(), &SingletonJob::run, this, [&] { sinceRun.start(); });
    a.job->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(a.job->isRunning(), 3000);
    QVERIFY(!context.isCancelled());
    QVERIFY(context.deadline().remainingTime() > AtMost - 200);

    QVERIFY(cancelled.wait(AtMost + 2000));
    const qint64 at = sinceRun.elapsed();
    QVERIFY2(at >= AtMost - 5 && at < AtMost + 250, qPrintable(QString::number(at)));
    QVERIFY(context.isCancelled());
    QVERIFY(!a.job->isRunning());
    QVERIFY(a.job->errorString().contains(QLatin1String("lockAtMostFor")));
    context.finish(); // too late: ignored
    QTest::qWait(50);
    QCOMPARE(finished.count(), 0);

    Instance b = makeInstance(resource);
    QSignalSpy bRun(b.job.get(), &SingletonJob::run);
    b.job->trigger();
    QVERIFY(bRun.wait(3000));
    b.job->finish();
}

// SIGSTOP on two of three servers while the job runs: no extension can succeed, and the job
// is told to stop before the lease's validity runs out.
void tst_SingletonJob::cancelled_whenMajorityPaused()
{
    constexpr int AtMost = 1500;
    Instance in = makeInstance(freshResource("paused"), 100);
    in.job->setLockAtMostFor(AtMost);
    JobContext context;
    QElapsedTimer sinceRun;
    in.job->setJob([&](JobContext &ctx) {
        sinceRun.start();
        context = ctx;
        m_cluster.at(0).pause();
        m_cluster.at(1).pause();
    });
    QSignalSpy cancelled(in.job.get(), &SingletonJob::cancelled);
    QSignalSpy running(in.job.get(), &SingletonJob::runningChanged);
    in.job->trigger();
    QVERIFY(cancelled.wait(AtMost + 2000));
    const qint64 at = sinceRun.elapsed();
    // The acquisition's validity (from before run()) ends at the latest here; the
    // expiry itself would come then, the warning must come clearly before it.
    const qint64 validityEnd = qint64(AtMost - AtMost * DriftFactor - 2);
    QVERIFY2(at < validityEnd - 50, qPrintable(QStringLiteral("cancelled after %1 ms, validity ended at %2 ms").arg(at).arg(validityEnd)));
    QVERIFY2(at > AtMost / 3, qPrintable(QStringLiteral("cancelled too early: %1 ms").arg(at)));
    QVERIFY(context.isCancelled());
    QVERIFY(!in.job->isRunning());
    QCOMPARE(running.count(), 2);
    QVERIFY(in.job->errorString().contains(QLatin1String("no extension was confirmed")));
}

// The key disappears from every server while the job runs (an operator, or a server that
// lost its data): the next extension is refused, the lock is lost, the job cancelled.
void tst_SingletonJob::cancelled_whenLockLost()
{
    const QString resource = freshResource("lost");
    constexpr int AtMost = 900;
    Instance in = makeInstance(resource, 100); // a TTL of 900 ms needs a server timeout <= 222 ms
    in.job->setLockAtMostFor(AtMost);
    JobContext context;
    in.job->setJob([&](JobContext &ctx) { context = ctx; });
    QSignalSpy run(in.job.get(), &SingletonJob::run);
    QSignalSpy cancelled(in.job.get(), &SingletonJob::cancelled);
    in.job->trigger();
    QVERIFY(run.wait(3000));
    QElapsedTimer sinceDelete;
    sinceDelete.start();
    // The run starts at quorum; the last server's grant may land only after this DEL.
    int deleted = 0;
    for (int i = 0; i < m_cluster.size(); ++i)
        deleted += m_cluster.at(i).command(args({ "DEL", resource.toUtf8() })).toLongLong() == 1 ? 1 : 0;
    QVERIFY2(deleted >= 2, qPrintable(QString::number(deleted)));
    QVERIFY(cancelled.wait(AtMost));
    QVERIFY2(sinceDelete.elapsed() < AtMost, qPrintable(QString::number(sinceDelete.elapsed())));
    QVERIFY(context.isCancelled());
    QVERIFY2(in.job->errorString().contains(QLatin1String("lost")), qPrintable(in.job->errorString()));
}

void tst_SingletonJob::outcome_fromWorkerThread_data()
{
    QTest::addColumn<bool>("succeed");
    QTest::newRow("finish") << true;
    QTest::newRow("fail") << false;
}

// The callable hands its context to a worker thread, which reports from there.
void tst_SingletonJob::outcome_fromWorkerThread()
{
    QFETCH(bool, succeed);
    Instance in = makeInstance(freshResource("thread"));
    std::vector<std::thread> workers;
    std::atomic<bool> sawCancel { false };
    in.job->setJob([&workers, &sawCancel, succeed](JobContext &ctx) {
        workers.emplace_back([ctx, &sawCancel, succeed]() mutable {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            sawCancel = ctx.isCancelled();
            if (succeed)
                ctx.finish();
            else
                ctx.fail(QStringLiteral("disk full"));
            ctx.finish(); // a second outcome is ignored
        });
    });
    QSignalSpy finished(in.job.get(), &SingletonJob::finished);
    QSignalSpy failed(in.job.get(), &SingletonJob::failed);
    in.job->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() + failed.count() == 1, 3000);
    for (std::thread &t : workers)
        t.join();
    QVERIFY(!sawCancel);
    QTest::qWait(50);
    QCOMPARE(finished.count(), succeed ? 1 : 0);
    QCOMPARE(failed.count(), succeed ? 0 : 1);
    if (!succeed) {
        QCOMPARE(failed.at(0).at(0).toString(), QStringLiteral("disk full"));
        QCOMPARE(in.job->errorString(), QStringLiteral("disk full"));
    }
    QVERIFY(!in.job->isRunning());
}

// A failed run keeps nothing: another instance may retry at once despite lockAtLeastFor.
void tst_SingletonJob::failed_releasesAtOnce()
{
    const QString resource = freshResource("failed");
    Instance a = makeInstance(resource);
    Instance b = makeInstance(resource);
    a.job->setLockAtLeastFor(5000);
    QSignalSpy aRun(a.job.get(), &SingletonJob::run);
    QSignalSpy aFailed(a.job.get(), &SingletonJob::failed);
    a.job->trigger();
    QVERIFY(aRun.wait(3000));
    a.job->fail(QStringLiteral("upstream down"));
    QCOMPARE(aFailed.count(), 1);
    QTRY_VERIFY_WITH_TIMEOUT(allServersLack(resource.toUtf8()), 2000);
    QSignalSpy bRun(b.job.get(), &SingletonJob::run);
    b.job->trigger();
    QVERIFY(bRun.wait(3000));
    b.job->finish();
}

void tst_SingletonJob::active_schedulesAndStops()
{
    Instance in = makeInstance(freshResource("active"));
    QSignalSpy run(in.job.get(), &SingletonJob::run);
    QSignalSpy activeChanged(in.job.get(), &SingletonJob::activeChanged);
    in.job->setActive(true);
    in.job->setActive(true); // no change, no signal
    QCOMPARE(activeChanged.count(), 1);
    QCOMPARE(run.count(), 0); // deferred to the event loop
    QVERIFY(run.wait(3000));  // the first attempt comes with the activation
    QVERIFY(in.job->isRunning());
    in.job->setActive(false);
    QTest::qWait(50);
    QVERIFY(in.job->isRunning()); // deactivation lets the run go on
    in.job->finish();
    QVERIFY(!in.job->isRunning());
}

void tst_SingletonJob::misconfigured_doesNotRun()
{
    Instance in = makeInstance(QString());
    QSignalSpy run(in.job.get(), &SingletonJob::run);
    QSignalSpy skipped(in.job.get(), &SingletonJob::skipped);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("cannot run: no resource set")));
    in.job->trigger();
    QTest::qWait(100);
    QCOMPARE(run.count(), 0);
    QCOMPARE(skipped.count(), 0);
    QCOMPARE(in.job->errorString(), QStringLiteral("no resource set"));
}

QTEST_MAIN(tst_SingletonJob)
#include "tst_singletonjob.moc"
