// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// SingletonJob schedules against three real redis-server processes: a 2-second cron
// schedule run by three processes (one SIGKILLed mid-run, one with its wall clock off),
// catch-up after every instance was down, the shared job record (written, read elsewhere,
// not overwritten by a stale holder), a 31-day oncePerPeriod, refused settings.
//
// The same executable is its own worker process: `tst_schedule --worker ...` runs one
// SingletonJob and prints what it does, one line per event, on stdout.

#include "preloadenv.h"
#include "redisserver.h"

#include <QRedlock/LockManager>
#include <QRedlock/SingletonJob>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QMap>
#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>
#include <QTextStream>
#include <QTimer>
#include <QTimeZone>

#include <chrono>
#include <climits>
#include <cstdio>
#include <memory>
#include <signal.h>

using namespace QRedlock;
using QRedlockTest::RedisCluster;
using namespace std::chrono_literals;

namespace {

constexpr qint64 Day = 24LL * 3600 * 1000;

qint64 nowMs() { return QDateTime::currentMSecsSinceEpoch(); }

void say(const QString &line)
{
    std::fputs(qPrintable(line + u'\n'), stdout);
    std::fflush(stdout);
}

// Worker: --worker <servers> <resource> <schedule> <workMs> <name>
// Prints READY, then "RUN <occurrence ms> <name>" at every run (finishing after workMs).
int workerMain(const QStringList &a)
{
    if (a.size() < 7)
        return 64;
    auto *manager = new LockManager(qApp);
    manager->setHolderIdentity(a.at(6));
    if (!manager->setServers(a.at(2).split(u',')))
        return 65;
    auto *job = new SingletonJob(qApp);
    job->setManager(manager);
    job->setResource(a.at(3));
    job->setSchedule(a.at(4));
    job->setTimeZone(QStringLiteral("Europe/Berlin"));
    job->setLockAtMostFor(1500);
    job->setLockAtLeastFor(1000);
    const int workMs = a.at(5).toInt();
    const QString name = a.at(6);
    job->setJob([job, workMs, name](JobContext &ctx) {
        say(QStringLiteral("RUN %1 %2").arg(ctx.occurrence().toMSecsSinceEpoch()).arg(name));
        QTimer::singleShot(workMs, job, [ctx]() mutable { ctx.finish(); });
    });
    job->setActive(true);
    say(QStringLiteral("READY"));
    return QCoreApplication::exec();
}

struct Worker
{
    std::unique_ptr<QProcess> process;
    QString name;
    QByteArray pending;
};

} // namespace

class tst_Schedule : public QObject
{
    Q_OBJECT

private:
    RedisCluster m_cluster;
    int m_serial = 0;
    QString freshResource(const char *name)
    {
        return QStringLiteral("tst-schedule:%1:%2:%3").arg(QLatin1String(name)).arg(QCoreApplication::applicationPid()).arg(++m_serial);
    }
    std::unique_ptr<LockManager> makeManager(const QString &identity)
    {
        auto m = std::make_unique<LockManager>();
        if (!m->setServers(m_cluster.urls()))
            qWarning("setServers: %s", qPrintable(m->errorString()));
        m->setHolderIdentity(identity);
        return m;
    }
    std::unique_ptr<SingletonJob> makeJob(LockManager *m, const QString &resource)
    {
        auto job = std::make_unique<SingletonJob>();
        job->setManager(m);
        job->setResource(resource);
        job->setLockAtMostFor(1500);
        return job;
    }
    // Waits until the wall clock is `into` ms past a multiple of periodMs.
    static void alignTo(qint64 periodMs, qint64 into)
    {
        const qint64 wait = (into - nowMs() % periodMs + 2 * periodMs) % periodMs;
        QTest::qWait(int(wait));
    }

private Q_SLOTS:
    void initTestCase();
    void cleanup();

    void threeProcesses_everyOccurrenceOnce_data();
    void threeProcesses_everyOccurrenceOnce();
    void catchUp_afterAllInstancesDown_data();
    void catchUp_afterAllInstancesDown();
    void catchUp_notWhenOnRecord();
    void catchUp_whenServersComeBack_data();
    void catchUp_whenServersComeBack();
    void record_writtenAndReadElsewhere();
    void record_notOverwrittenByStaleHolder();
    void record_cancelRun();
    void oncePerPeriod_31Days();
    void refused_data();
    void refused();
    void invalidSchedule_keepsJobInactive_data();
    void invalidSchedule_keepsJobInactive();
};

void tst_Schedule::cleanup()
{
    for (int i = 0; i < m_cluster.size(); ++i) {
        if (m_cluster.at(i).isPaused())
            m_cluster.at(i).resume();
    }
}

void tst_Schedule::initTestCase()
{
    QVERIFY2(m_cluster.start(3),
             qPrintable(QStringLiteral("cannot start 3 redis-server processes (is redis-server installed? "
                                       "run scripts/setup): ") + m_cluster.errorString()));
}

// Three processes, `*/2 * * * * *`, about 10 s: every occurrence wholly inside the
// observation runs exactly once (a run counts when it started, also the one whose process
// was SIGKILLed during it: that occurrence is not started again).
void tst_Schedule::threeProcesses_everyOccurrenceOnce_data()
{
    QTest::addColumn<bool>("killOne");
    QTest::addColumn<int>("clockOffsetMs");
    QTest::newRow("three healthy processes") << false << 0;
    QTest::newRow("one SIGKILLed mid-run") << true << 0;
    QTest::newRow("one clock 300 ms ahead") << false << 300;
    QTest::newRow("one clock 300 ms behind") << false << -300;
}

void tst_Schedule::threeProcesses_everyOccurrenceOnce()
{
    QFETCH(bool, killOne);
    QFETCH(int, clockOffsetMs);
    constexpr qint64 Every = 2000;
    const QString resource = freshResource("three");
    const int workMs = killOne ? 700 : 300;
    std::vector<Worker> workers(3);
    QMap<qint64, QStringList> runs; // occurrence -> who started it
    int ready = 0;
    bool killed = false;
    QString killedName;
    for (int i = 0; i < 3; ++i) {
        Worker &w = workers[size_t(i)];
        w.name = QStringLiteral("w%1").arg(i);
        w.process = std::make_unique<QProcess>();
        w.process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
        if (i == 2 && clockOffsetMs != 0) {
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            QRedlockTest::preloadLibrary(env, QStringLiteral(QREDLOCK_CLOCKSHIM));
            env.insert(QStringLiteral("QREDLOCK_CLOCK_OFFSET_MS"), QString::number(clockOffsetMs));
            w.process->setProcessEnvironment(env);
        }
        Worker *wp = &w;
        connect(w.process.get(), &QProcess::readyReadStandardOutput, this, [&, wp] {
            wp->pending += wp->process->readAllStandardOutput();
            qsizetype nl;
            while ((nl = wp->pending.indexOf('\n')) >= 0) {
                const QString line = QString::fromUtf8(wp->pending.left(nl));
                wp->pending.remove(0, nl + 1);
                const QStringList f = line.split(u' ');
                if (f.value(0) == u"READY")
                    ++ready;
                if (f.value(0) == u"RUN" && f.size() == 3) {
                    const qint64 occurrence = f.at(1).toLongLong();
                    runs[occurrence] << f.at(2);
                    // The second occurrence that runs: SIGKILL its runner during the run.
                    if (killOne && !killed && runs.size() >= 2) {
                        killed = true;
                        killedName = f.at(2);
                        QTimer::singleShot(150, this, [wp] { ::kill(pid_t(wp->process->processId()), SIGKILL); });
                    }
                }
            }
        });
        w.process->start(QCoreApplication::applicationFilePath(),
                         { QStringLiteral("--worker"), m_cluster.urls().join(u','), resource,
                           QStringLiteral("*/2 * * * * *"), QString::number(workMs), w.name });
    }
    QTRY_COMPARE_WITH_TIMEOUT(ready, 3, 10000);
    const qint64 from = nowMs() + 500;  // every worker is up and scheduling
    QTest::qWait(10500);
    const qint64 to = nowMs() - 1000;   // occurrences after this may still be starting
    for (Worker &w : workers) {
        if (w.process->state() != QProcess::NotRunning) {
            w.process->terminate();
            if (!w.process->waitForFinished(3000))
                w.process->kill();
            w.process->waitForFinished(3000);
        }
    }
    QString seen;
    for (auto it = runs.cbegin(); it != runs.cend(); ++it)
        seen += QStringLiteral(" %1:%2").arg(it.key() % 100000).arg(it.value().join(u'+'));
    int checked = 0;
    for (qint64 t = (from / Every + 1) * Every; t <= to; t += Every) {
        const QStringList who = runs.value(t);
        QVERIFY2(who.size() == 1, qPrintable(QStringLiteral("occurrence %1 started %2 times; runs:%3")
                                                      .arg(t % 100000).arg(who.size()).arg(seen)));
        ++checked;
    }
    for (auto it = runs.cbegin(); it != runs.cend(); ++it)
        QVERIFY2(it.value().size() == 1, qPrintable(QStringLiteral("an occurrence ran twice:%1").arg(seen)));
    QVERIFY2(checked >= 4, qPrintable(QStringLiteral("only %1 occurrences observed").arg(checked)));
    if (killOne)
        QVERIFY2(killed, "no run was killed");
}

// Every instance was down at an occurrence; one comes up shortly after it: RunOnce runs
// that occurrence once, late; Skip waits for the next one.
void tst_Schedule::catchUp_afterAllInstancesDown_data()
{
    QTest::addColumn<SingletonJob::MisfirePolicy>("policy");
    QTest::newRow("RunOnce") << SingletonJob::MisfirePolicy::RunOnce;
    QTest::newRow("Skip") << SingletonJob::MisfirePolicy::Skip;
}

void tst_Schedule::catchUp_afterAllInstancesDown()
{
    QFETCH(SingletonJob::MisfirePolicy, policy);
    constexpr qint64 Every = 4000;
    const QString resource = freshResource("catchup");
    alignTo(Every, 600); // an occurrence went by 600 ms ago, with nobody up
    const qint64 missed = nowMs() / Every * Every;
    auto m = makeManager(QStringLiteral("late-instance"));
    auto job = makeJob(m.get(), resource);
    job->setSchedule(QStringLiteral("*/4 * * * * *"));
    job->setTimeZone(QStringLiteral("UTC"));
    job->setMisfirePolicy(policy);
    QCOMPARE(job->misfirePolicy(), policy);
    QList<qint64> occurrences;
    job->setJob([&occurrences](JobContext &ctx) {
        occurrences << ctx.occurrence().toMSecsSinceEpoch();
        ctx.finish();
    });
    QSignalSpy finished(job.get(), &SingletonJob::finished);
    job->setActive(true);
    if (policy == SingletonJob::MisfirePolicy::RunOnce) {
        QVERIFY(finished.wait(2000));
        QCOMPARE(occurrences, QList<qint64>({ missed }));
        QTRY_COMPARE_WITH_TIMEOUT(job->lastRecord().value(QStringLiteral("outcome")).toString(), QStringLiteral("finished"), 2000);
        QCOMPARE(job->lastRecord().value(QStringLiteral("occurrenceMs")).toLongLong(), missed);
    } else {
        QTest::qWait(1500);
        QVERIFY2(occurrences.isEmpty(), "Skip must not run the missed occurrence");
    }
    // The next occurrence runs in either case.
    QTRY_VERIFY_WITH_TIMEOUT(occurrences.contains(missed + Every), int(Every + 2000));
    QCOMPARE(occurrences.count(missed + Every), 1);
}

// An instance that comes up after the occurrence ran elsewhere does not run it again.
void tst_Schedule::catchUp_notWhenOnRecord()
{
    constexpr qint64 Every = 4000;
    const QString resource = freshResource("onrecord");
    alignTo(Every, 100);
    auto m1 = makeManager(QStringLiteral("first"));
    auto first = makeJob(m1.get(), resource);
    first->setSchedule(QStringLiteral("*/4 * * * * *"));
    first->setJob([](JobContext &ctx) { ctx.finish(); });
    QSignalSpy firstFinished(first.get(), &SingletonJob::finished);
    first->setActive(true);
    QVERIFY(firstFinished.wait(2000)); // the catch-up of the occurrence 100 ms ago
    first.reset();                     // gone; its hold is dropped with the manager
    m1.reset();

    auto m2 = makeManager(QStringLiteral("second"));
    auto second = makeJob(m2.get(), resource);
    second->setSchedule(QStringLiteral("*/4 * * * * *"));
    int runs = 0;
    second->setJob([&runs](JobContext &ctx) {
        ++runs;
        ctx.finish();
    });
    QSignalSpy refreshed(second.get(), &SingletonJob::recordRefreshed);
    second->setActive(true);
    QVERIFY(refreshed.wait(2000)); // the loser reads what ran
    QTest::qWait(500);
    QCOMPARE(runs, 0);
    QCOMPARE(second->lastRecord().value(QStringLiteral("holder")).toString(), QStringLiteral("first"));
    QCOMPARE(second->lastRecord().value(QStringLiteral("outcome")).toString(), QStringLiteral("finished"));
}

// The only instance is up, but a majority of its servers is not at an occurrence: when they
// answer again (within the grace) RunOnce runs that occurrence, Skip waits for the next.
void tst_Schedule::catchUp_whenServersComeBack_data()
{
    catchUp_afterAllInstancesDown_data();
}

void tst_Schedule::catchUp_whenServersComeBack()
{
    QFETCH(SingletonJob::MisfirePolicy, policy);
    constexpr qint64 Every = 4000;
    const QString resource = freshResource("serversback");
    auto m = makeManager(QStringLiteral("patient"));
    auto job = makeJob(m.get(), resource);
    job->setSchedule(QStringLiteral("*/4 * * * * *"));
    job->setMisfirePolicy(policy);
    QList<qint64> occurrences;
    job->setJob([&occurrences](JobContext &ctx) {
        occurrences << ctx.occurrence().toMSecsSinceEpoch();
        ctx.finish();
    });
    alignTo(Every, Every - 700);
    job->setActive(true);
    QTest::qWait(200); // (the activation finds nothing to catch up: the last occurrence ran elsewhere or long ago)
    occurrences.clear();
    const qint64 missed = (nowMs() / Every + 1) * Every;
    m_cluster.at(0).pause();
    m_cluster.at(1).pause();
    QSignalSpy skipped(job.get(), &SingletonJob::skipped);
    QTRY_VERIFY_WITH_TIMEOUT(skipped.count() >= 1, 3000); // the attempt at `missed` found no quorum
    QVERIFY2(nowMs() > missed, qPrintable(job->errorString()));
    QTest::qWait(300);
    m_cluster.at(0).resume();
    m_cluster.at(1).resume();
    if (policy == SingletonJob::MisfirePolicy::RunOnce) {
        QTRY_VERIFY_WITH_TIMEOUT(occurrences.contains(missed), 3000);
        QVERIFY2(nowMs() < missed + Every, "the catch-up should come before the next occurrence");
    } else {
        QTRY_VERIFY_WITH_TIMEOUT(occurrences.contains(missed + Every), int(Every + 2000));
        QVERIFY(!occurrences.contains(missed));
    }
    QCOMPARE(occurrences.count(missed + (policy == SingletonJob::MisfirePolicy::RunOnce ? 0 : Every)), 1);
}

// The runner's record reaches the servers; another instance reads it without running.
void tst_Schedule::record_writtenAndReadElsewhere()
{
    const QString resource = freshResource("record");
    auto m1 = makeManager(QStringLiteral("runner-1"));
    auto runner = makeJob(m1.get(), resource);
    runner->setSchedule(QStringLiteral("*/2 * * * * *"));
    runner->setTimeZone(QStringLiteral("Europe/Berlin"));
    runner->setFencing(true);
    qint64 occurrence = -1;
    qint64 fence = -2;
    runner->setJob([&](JobContext &ctx) {
        occurrence = ctx.occurrence().toMSecsSinceEpoch();
        fence = ctx.fencingToken();
        QTimer::singleShot(200, runner.get(), [ctx]() mutable { ctx.fail(QStringLiteral("disk full")); });
    });
    QSignalSpy failed(runner.get(), &SingletonJob::failed);
    runner->trigger();
    QVERIFY(failed.wait(3000));
    QVERIFY(occurrence > 0);
    QVERIFY(fence >= 1);

    auto m2 = makeManager(QStringLiteral("reader"));
    auto reader = makeJob(m2.get(), resource);
    QSignalSpy refreshed(reader.get(), &SingletonJob::recordRefreshed);
    QSignalSpy changed(reader.get(), &SingletonJob::lastRecordChanged);
    QSignalSpy run(reader.get(), &SingletonJob::run);
    reader->refreshRecord();
    QCOMPARE(refreshed.count(), 0); // never synchronously
    QTRY_COMPARE_WITH_TIMEOUT(refreshed.count(), 1, 3000);
    QTRY_COMPARE_WITH_TIMEOUT(runner->lastRecord().value(QStringLiteral("outcome")).toString(), QStringLiteral("failed"), 2000);
    const QVariantMap r = reader->lastRecord();
    QCOMPARE(changed.count(), 1);
    QCOMPARE(run.count(), 0);
    QCOMPARE(r.value(QStringLiteral("holder")).toString(), QStringLiteral("runner-1"));
    QCOMPARE(r.value(QStringLiteral("outcome")).toString(), QStringLiteral("failed"));
    QCOMPARE(r.value(QStringLiteral("reason")).toString(), QStringLiteral("disk full"));
    QCOMPARE(r.value(QStringLiteral("occurrenceMs")).toLongLong(), occurrence);
    QCOMPARE(r.value(QStringLiteral("occurrence")).toDateTime(), QDateTime::fromMSecsSinceEpoch(occurrence, Qt::UTC));
    QCOMPARE(r.value(QStringLiteral("fencingToken")).toLongLong(), fence);
    QCOMPARE(r.value(QStringLiteral("schedule")).toString(), QStringLiteral("*/2 * * * * *"));
    QCOMPARE(r.value(QStringLiteral("timeZone")).toString(), QStringLiteral("Europe/Berlin"));
    QVERIFY(r.value(QStringLiteral("durationMs")).toLongLong() >= 150);
    QVERIFY(r.value(QStringLiteral("finishedMs")).toLongLong() >= r.value(QStringLiteral("startedMs")).toLongLong());
    QCOMPARE(r, runner->lastRecord());
    // A second read of the same record changes nothing.
    reader->refreshRecord();
    QTRY_COMPARE_WITH_TIMEOUT(refreshed.count(), 2, 3000);
    QCOMPARE(changed.count(), 1);
}

// A holder whose lock key was taken over cannot write its outcome over the record.
void tst_Schedule::record_notOverwrittenByStaleHolder()
{
    const QString resource = freshResource("stale");
    alignTo(2000, 50);
    auto m1 = makeManager(QStringLiteral("stale-holder"));
    auto stale = makeJob(m1.get(), resource);
    stale->setSchedule(QStringLiteral("*/2 * * * * *"));
    stale->setLockAtMostFor(5000);
    QSignalSpy run(stale.get(), &SingletonJob::run);
    stale->trigger();
    QVERIFY(run.wait(2000));
    const qint64 occurrence = nowMs() / 2000 * 2000;
    QTRY_COMPARE_WITH_TIMEOUT(stale->lastRecord().value(QStringLiteral("outcome")).toString(), QStringLiteral("running"), 2000);
    // Someone else holds the occurrence's key now (our lease "lapsed" and was taken).
    const QByteArray key = QStringLiteral("%1:at:%2").arg(resource).arg(occurrence).toUtf8();
    for (int i = 0; i < m_cluster.size(); ++i)
        QCOMPARE(m_cluster.at(i).command({ "SET", key, "a-later-holder", "PX", "10000" }), QVariant(QByteArray("OK")));
    stale->finish();

    auto m2 = makeManager(QStringLiteral("reader"));
    auto reader = makeJob(m2.get(), resource);
    QSignalSpy refreshed(reader.get(), &SingletonJob::recordRefreshed);
    QTest::qWait(300); // the stale write has been refused by now
    reader->refreshRecord();
    QVERIFY(refreshed.wait(3000));
    QCOMPARE(reader->lastRecord().value(QStringLiteral("outcome")).toString(), QStringLiteral("running"));
    QCOMPARE(reader->lastRecord().value(QStringLiteral("holder")).toString(), QStringLiteral("stale-holder"));
    QCOMPARE(stale->lastRecord().value(QStringLiteral("outcome")).toString(), QStringLiteral("running"));
}

// cancelRun() from outside: the context says cancelled, the record says why, the lock goes.
void tst_Schedule::record_cancelRun()
{
    const QString resource = freshResource("cancel");
    auto m = makeManager(QStringLiteral("cancelled-instance"));
    auto job = makeJob(m.get(), resource);
    job->setSchedule(QStringLiteral("*/2 * * * * *"));
    JobContext context;
    job->setJob([&context](JobContext &ctx) { context = ctx; });
    QSignalSpy run(job.get(), &SingletonJob::run);
    QSignalSpy cancelled(job.get(), &SingletonJob::cancelled);
    job->trigger();
    QVERIFY(run.wait(3000));
    QVERIFY(!context.token().isEmpty());
    QCOMPARE(context.fencingToken(), qint64(-1));
    const QByteArray key = QStringLiteral("%1:at:%2").arg(resource).arg(context.occurrence().toMSecsSinceEpoch()).toUtf8();
    QCOMPARE(m_cluster.at(0).command({ "GET", key }).toByteArray(), context.token());
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("cancelled: SIGTERM")));
    job->cancelRun(QStringLiteral("SIGTERM"));
    QCOMPARE(cancelled.count(), 1);
    QVERIFY(context.isCancelled());
    QVERIFY(!job->isRunning());
    QTRY_COMPARE_WITH_TIMEOUT(job->lastRecord().value(QStringLiteral("outcome")).toString(), QStringLiteral("cancelled"), 2000);
    QCOMPARE(job->lastRecord().value(QStringLiteral("reason")).toString(), QStringLiteral("SIGTERM"));
    QTRY_VERIFY_WITH_TIMEOUT(!m_cluster.at(0).command({ "EXISTS", key }).toLongLong(), 2000);
}

// 31 days no longer overflows: the period is kept, the job runs, the key is the period's.
void tst_Schedule::oncePerPeriod_31Days()
{
    const QString resource = freshResource("month");
    auto m = makeManager(QStringLiteral("monthly"));
    auto job = makeJob(m.get(), resource);
    QSignalSpy errors(job.get(), &SingletonJob::errorOccurred);
    job->setOncePerPeriod(31 * 24h);
    QCOMPARE(job->oncePerPeriod(), 31 * Day);
    QCOMPARE(errors.count(), 0);
    const qint64 start = nowMs() / (31 * Day) * (31 * Day);
    QCOMPARE(job->nextOccurrence(), QDateTime::fromMSecsSinceEpoch(start + 31 * Day, Qt::UTC));
    QSignalSpy finished(job.get(), &SingletonJob::finished);
    job->setJob([](JobContext &ctx) { ctx.finish(); });
    job->trigger();
    QVERIFY(finished.wait(3000));
    QCOMPARE(job->lastRecord().value(QStringLiteral("occurrenceMs")).toLongLong(), start);
    const QByteArray key = QStringLiteral("%1:at:%2").arg(resource).arg(start).toUtf8();
    QTRY_VERIFY_WITH_TIMEOUT(m_cluster.at(0).command({ "PTTL", key }).toLongLong() > 1000000, 2000);
    // The same period again: skipped (its key is kept).
    auto other = makeManager(QStringLiteral("other"));
    auto second = makeJob(other.get(), resource);
    second->setOncePerPeriod(31 * Day);
    QSignalSpy secondSkipped(second.get(), &SingletonJob::skipped);
    QSignalSpy secondRun(second.get(), &SingletonJob::run);
    second->trigger();
    QVERIFY(secondSkipped.wait(3000));
    QCOMPARE(secondRun.count(), 0);
}

void tst_Schedule::refused_data()
{
    QTest::addColumn<QString>("property");
    QTest::addColumn<qint64>("value");
    QTest::newRow("negative interval") << QStringLiteral("interval") << qint64(-5);
    QTest::newRow("interval above 2^31-1") << QStringLiteral("interval") << qint64(INT_MAX) + 1;
    QTest::newRow("negative oncePerPeriod") << QStringLiteral("oncePerPeriod") << qint64(-1);
    QTest::newRow("oncePerPeriod of 11 years") << QStringLiteral("oncePerPeriod") << qint64(11 * 366 * Day);
    QTest::newRow("lockAtMostFor 0") << QStringLiteral("lockAtMostFor") << qint64(0);
    QTest::newRow("lockAtMostFor of 30 days") << QStringLiteral("lockAtMostFor") << qint64(30 * Day);
    QTest::newRow("negative lockAtLeastFor") << QStringLiteral("lockAtLeastFor") << qint64(-1);
    QTest::newRow("negative misfireGrace") << QStringLiteral("misfireGrace") << qint64(-1);
}

void tst_Schedule::refused()
{
    QFETCH(QString, property);
    QFETCH(qint64, value);
    SingletonJob job;
    const QByteArray name = property.toLatin1();
    const QVariant before = job.property(name.constData());
    QSignalSpy errors(&job, &SingletonJob::errorOccurred);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(property + QStringLiteral(" must be between")));
    QVERIFY(job.setProperty(name.constData(), QVariant::fromValue(value)));
    QCOMPARE(errors.count(), 1);
    QVERIFY2(errors.at(0).at(0).toString().contains(property), qPrintable(errors.at(0).at(0).toString()));
    QCOMPARE(job.errorString(), errors.at(0).at(0).toString());
    QCOMPARE(job.property(name.constData()), before);
}

void tst_Schedule::invalidSchedule_keepsJobInactive_data()
{
    QTest::addColumn<QString>("schedule");
    QTest::addColumn<QString>("zone");
    QTest::addColumn<qint64>("lockAtMostFor");
    QTest::addColumn<QString>("message");
    QTest::newRow("minute 61") << QStringLiteral("61 * * * *") << QString() << qint64(1500) << QStringLiteral("schedule");
    QTest::newRow("four fields") << QStringLiteral("* * * *") << QString() << qint64(1500) << QStringLiteral("schedule");
    QTest::newRow("unknown zone") << QStringLiteral("* * * * * *") << QStringLiteral("Mars/Olympus_Mons") << qint64(1500)
                                  << QStringLiteral("timeZone");
    QTest::newRow("lockAtMostFor below minimumTtl") << QStringLiteral("* * * * * *") << QString() << qint64(500)
                                                    << QStringLiteral("minimumTtl");
}

void tst_Schedule::invalidSchedule_keepsJobInactive()
{
    QFETCH(QString, schedule);
    QFETCH(QString, zone);
    QFETCH(qint64, lockAtMostFor);
    QFETCH(QString, message);
    auto m = makeManager(QStringLiteral("invalid"));
    auto job = makeJob(m.get(), freshResource("invalid"));
    QSignalSpy errors(job.get(), &SingletonJob::errorOccurred);
    QSignalSpy run(job.get(), &SingletonJob::run);
    QSignalSpy skipped(job.get(), &SingletonJob::skipped);
    if (message != u"minimumTtl")
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(message));
    job->setLockAtMostFor(lockAtMostFor);
    job->setSchedule(schedule);
    job->setTimeZone(zone);
    if (message != u"minimumTtl") {
        QCOMPARE(errors.count(), 1);
        QCOMPARE(job->schedule(), schedule); // stored as given
        QVERIFY(!job->nextOccurrence().isValid());
    }
    QVERIFY2(job->errorString().contains(message) || message == u"minimumTtl", qPrintable(job->errorString()));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("cannot run:.*") + message));
    job->setActive(true);
    QTest::qWait(1500);
    QCOMPARE(run.count(), 0);
    QCOMPARE(skipped.count(), 0);
    QVERIFY2(job->errorString().contains(message), qPrintable(job->errorString()));
    QVERIFY(errors.count() >= 1);
}

int main(int argc, char **argv)
{
    if (argc > 1 && qstrcmp(argv[1], "--worker") == 0) {
        QCoreApplication app(argc, argv);
        return workerMain(app.arguments());
    }
    QCoreApplication app(argc, argv);
    tst_Schedule t;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&t, argc, argv);
}

#include "tst_schedule.moc"
