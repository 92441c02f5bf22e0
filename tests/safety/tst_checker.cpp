// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The safety checker on hand-made run folders: every rule it applies, at its edges.
// (The negative controls of the runner test it end to end; this pins down the details.)

#include "checker.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace QRedlockSafety;

namespace {

constexpr qint64 Ms = 1000000;
constexpr qint64 T0 = 1000000 * Ms; // an arbitrary CLOCK_MONOTONIC origin

// One log record; times in ms after T0.
struct Rec
{
    int worker;
    double grant, deadline, end;
    const char *reason;
    double signal = 0;
    int increments = 1;
    double lastWrite = -1; // default: at the grant
};

// One line of a worker's refusals file.
struct Refused
{
    int worker;
    double at;
    const char *error;
    QString message;
    const char *source = "acquire";
};

qint64 at(double ms) { return T0 + qint64(ms * Ms); }

// The meta.json every row starts from: TTL 500, retry 50 + 25, timeout 100 (recovery bound
// 725 ms), two workers, the first grant at 0 ms.
RunMeta baseMeta()
{
    RunMeta meta;
    meta.scenario = QStringLiteral("synthetic");
    meta.servers = 3;
    meta.workers = 2;
    meta.ttl = 500;
    meta.retryDelay = 50;
    meta.retryJitter = 25;
    meta.serverTimeout = 100;
    meta.startNs = at(-10);
    meta.steadyNs = at(0);
    return meta;
}

// Writes a run folder as the runner and the workers would, and checks it.
bool writeAndCheck(const QString &dir, RunMeta meta, const QList<Rec> &records, qint64 counter,
                   const QList<Pause> &pauses, const QList<Refused> &refusals, CheckResult *result, QString *error)
{
    // The workers stop wanting the lock just after the last holding ends.
    double last = 0;
    for (const Rec &r : records)
        last = std::max(last, std::min(r.end, r.deadline));
    meta.stopNs = at(last + 10);
    QByteArray stalls[2];
    for (const Pause &p : pauses) {
        if (p.stall)
            stalls[p.worker] += QByteArray::number(p.stopNs) + '\t' + QByteArray::number(p.resumeNs) + "\t0\n";
        else
            meta.pauses.append(p);
    }
    if (!meta.save(QDir(dir).filePath(QStringLiteral("meta.json")))) {
        *error = QStringLiteral("cannot write meta.json");
        return false;
    }
    QByteArray logs[2];
    QByteArray refusalLines[2];
    int index[2] = { 0, 0 };
    for (const Rec &r : records) {
        const QList<qint64> fields{ r.worker, ++index[r.worker], at(r.grant - 1), at(r.grant), at(r.deadline), at(r.end) };
        QByteArray line;
        for (qint64 f : fields)
            line += QByteArray::number(f) + '\t';
        const bool released = qstrcmp(r.reason, "released") == 0;
        line += QByteArray(r.reason) + '\t' + QByteArray::number(r.signal > 0 ? at(r.signal) : 0) + '\t'
                + QByteArray::number(released ? at(r.end) : 0) + '\t'
                + QByteArray::number(at(r.lastWrite >= 0 ? r.lastWrite : r.grant)) + "\t0\t"
                + QByteArray::number(r.increments) + "\t0\t0\n";
        logs[r.worker] += line;
    }
    for (const Refused &f : refusals)
        refusalLines[f.worker] += QByteArray::number(at(f.at)) + '\t' + f.source + '\t' + f.error + '\t'
                + f.message.toUtf8() + '\n';
    const auto write = [&](const QString &name, const QByteArray &bytes) {
        QFile file(QDir(dir).filePath(name));
        return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size();
    };
    for (int w = 0; w < 2; ++w) {
        if (!write(QStringLiteral("worker-%1.log").arg(w), logs[w])
            || (!stalls[w].isEmpty() && !write(QStringLiteral("worker-%1.log.stalls").arg(w), stalls[w]))
            || (!refusalLines[w].isEmpty() && !write(QStringLiteral("worker-%1.log.refusals").arg(w), refusalLines[w]))) {
            *error = QStringLiteral("cannot write the logs");
            return false;
        }
    }
    if (!write(QStringLiteral("counter"), QByteArray::number(counter) + '\n')) {
        *error = QStringLiteral("cannot write the counter");
        return false;
    }
    RunMeta loaded;
    return checkRun(dir, &loaded, result, error);
}

} // namespace

Q_DECLARE_METATYPE(QList<Rec>)
Q_DECLARE_METATYPE(QList<Fault>)
Q_DECLARE_METATYPE(QList<Pause>)
Q_DECLARE_METATYPE(QList<Refused>)
Q_DECLARE_METATYPE(QList<AliasWorker>)

class tst_SafetyChecker : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void check_data();
    void check();
    void scenarioRules_data();
    void scenarioRules();
    void minimumTtl();
    void scheduledJob_occurrenceRunTwice_data();
    void scheduledJob_occurrenceRunTwice();
};

void tst_SafetyChecker::check_data()
{
    QTest::addColumn<QList<Rec>>("records");
    QTest::addColumn<qint64>("counter");
    QTest::addColumn<QList<Fault>>("faults");
    QTest::addColumn<QList<Pause>>("pauses");  // runner pauses and (stall = true) worker stalls
    QTest::addColumn<int>("overlaps");
    QTest::addColumn<qint64>("lost");
    QTest::addColumn<int>("late");
    QTest::addColumn<int>("excused");          // paused + stalled
    QTest::addColumn<int>("lateWrites");
    QTest::addColumn<int>("livenessFailures");

    const QList<Fault> none;
    const QList<Pause> noPause;
    // TTL 500, retry 50 + 25, timeout 100: recovery bound 725 ms. The first grant at 0 ms.
    QTest::newRow("clean hand-over")
            << QList<Rec>{ { 0, 0, 480, 100, "released" }, { 1, 120, 600, 300, "released" } } << qint64(2)
            << none << noPause << 0 << qint64(0) << 0 << 0 << 0 << 0;
    QTest::newRow("overlap")
            << QList<Rec>{ { 0, 0, 480, 100, "released" }, { 1, 90, 570, 300, "released" } } << qint64(2)
            << none << noPause << 1 << qint64(0) << 0 << 0 << 0 << 0;
    QTest::newRow("same worker never overlaps itself")
            << QList<Rec>{ { 0, 0, 480, 100, "released" }, { 0, 90, 570, 300, "released" } } << qint64(2)
            << none << noPause << 0 << qint64(0) << 0 << 0 << 0 << 0;
    QTest::newRow("a holding ends at its deadline at the latest")
            << QList<Rec>{ { 0, 0, 480, 484, "expired", 484 }, { 1, 482, 960, 600, "released" } } << qint64(2)
            << none << noPause << 0 << qint64(0) << 0 << 0 << 0 << 0;
    QTest::newRow("lost update")
            << QList<Rec>{ { 0, 0, 480, 100, "released", 0, 5 } } << qint64(4)
            << none << noPause << 0 << qint64(1) << 0 << 0 << 0 << 0;
    QTest::newRow("counter ahead is a violation too")
            << QList<Rec>{ { 0, 0, 480, 100, "released", 0, 5 } } << qint64(6)
            << none << noPause << 0 << qint64(-1) << 0 << 0 << 0 << 0;
    QTest::newRow("signal within 5 ms of the deadline")
            << QList<Rec>{ { 0, 0, 480, 484.9, "expired", 484.9 } } << qint64(1)
            << none << noPause << 0 << qint64(0) << 0 << 0 << 0 << 0;
    QTest::newRow("signal 6 ms late")
            << QList<Rec>{ { 0, 0, 480, 486, "expired", 486 } } << qint64(1)
            << none << noPause << 0 << qint64(0) << 1 << 0 << 0 << 0;
    QTest::newRow("release after the deadline without a signal")
            << QList<Rec>{ { 0, 0, 480, 490, "released" } } << qint64(1)
            << none << noPause << 0 << qint64(0) << 1 << 0 << 0 << 0;
    QTest::newRow("SIGSTOPped over the deadline, signal right after resuming")
            << QList<Rec>{ { 0, 0, 480, 902, "expired", 902 } } << qint64(1)
            << none << QList<Pause>{ { 0, at(300), at(900), false } } << 0 << qint64(0) << 0 << 1 << 0 << 0;
    QTest::newRow("SIGSTOPped over the deadline, signal 10 ms after resuming")
            << QList<Rec>{ { 0, 0, 480, 910, "expired", 910 } } << qint64(1)
            << none << QList<Pause>{ { 0, at(300), at(900), false } } << 0 << qint64(0) << 1 << 0 << 0 << 0;
    QTest::newRow("another worker's pause is no excuse")
            << QList<Rec>{ { 0, 0, 480, 902, "expired", 902 } } << qint64(1)
            << none << QList<Pause>{ { 1, at(300), at(900), false } } << 0 << qint64(0) << 1 << 0 << 0 << 0;
    QTest::newRow("a pause that ended before the deadline is no excuse")
            << QList<Rec>{ { 0, 0, 480, 520, "expired", 520 } } << qint64(1)
            << none << QList<Pause>{ { 0, at(100), at(400), false } } << 0 << qint64(0) << 1 << 0 << 0 << 0;
    QTest::newRow("a measured stall over the deadline")
            << QList<Rec>{ { 0, 0, 480, 541, "expired", 541 } } << qint64(1)
            << none << QList<Pause>{ { 0, at(478), at(540), true } } << 0 << qint64(0) << 0 << 1 << 0 << 0;
    QTest::newRow("late write")
            << QList<Rec>{ { 0, 0, 480, 100, "released", 0, 1, 200 } } << qint64(1)
            << none << noPause << 0 << qint64(0) << 0 << 0 << 1 << 0;
    QTest::newRow("taken again within the bound after the heal")
            << QList<Rec>{ { 0, 0, 2990, 2980, "released" } } << qint64(1)
            << QList<Fault>{ { QStringLiteral("pause"), at(-1000), at(-500), QString() } } << noPause
            << 0 << qint64(0) << 0 << 0 << 0 << 0;
    QTest::newRow("not taken again within the bound")
            << QList<Rec>{ { 0, 0, 480, 100, "released" }, { 1, 1300, 2990, 2980, "released" } } << qint64(2)
            << QList<Fault>{ { QStringLiteral("pause"), at(200), at(500), QString() } } << noPause
            << 0 << qint64(0) << 0 << 0 << 0 << 1;
    QTest::newRow("a gap during the fault does not count")
            << QList<Rec>{ { 0, 0, 480, 100, "released" }, { 1, 1300, 2990, 2980, "released" } } << qint64(2)
            << QList<Fault>{ { QStringLiteral("pause"), at(100), at(1200), QString() } } << noPause
            << 0 << qint64(0) << 0 << 0 << 0 << 0;
    // Without leftover keys the bound is 2 x (50 + 25) + 100 + 50 = 300 ms.
    QTest::newRow("no keys left: taken again within the tighter bound")
            << QList<Rec>{ { 0, 0, 480, 100, "released" }, { 1, 1450, 2990, 2980, "released" } } << qint64(2)
            << QList<Fault>{ { QStringLiteral("kill"), at(200), at(1200), QString(), false } } << noPause
            << 0 << qint64(0) << 0 << 0 << 0 << 0;
    QTest::newRow("no keys left: a gap the TTL would have excused")
            << QList<Rec>{ { 0, 0, 480, 100, "released" }, { 1, 1600, 2990, 2980, "released" } } << qint64(2)
            << QList<Fault>{ { QStringLiteral("kill"), at(200), at(1200), QString(), false } } << noPause
            << 0 << qint64(0) << 0 << 0 << 0 << 1;
    QTest::newRow("the same gap with keys left")
            << QList<Rec>{ { 0, 0, 480, 100, "released" }, { 1, 1600, 2990, 2980, "released" } } << qint64(2)
            << QList<Fault>{ { QStringLiteral("kill"), at(200), at(1200), QString() } } << noPause
            << 0 << qint64(0) << 0 << 0 << 0 << 0;
    QTest::newRow("a gap in a run without faults counts")
            << QList<Rec>{ { 0, 0, 480, 100, "released" }, { 1, 1300, 2990, 2980, "released" } } << qint64(2)
            << none << noPause << 0 << qint64(0) << 0 << 0 << 0 << 1;
}

void tst_SafetyChecker::check()
{
    QFETCH(QList<Rec>, records);
    QFETCH(qint64, counter);
    QFETCH(QList<Fault>, faults);
    QFETCH(QList<Pause>, pauses);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    RunMeta meta = baseMeta();
    meta.faults = faults;
    CheckResult result;
    QString error;
    QVERIFY2(writeAndCheck(dir.path(), meta, records, counter, pauses, {}, &result, &error), qPrintable(error));
    QFETCH(int, excused);
    QFETCH(int, livenessFailures);
    const QString findings = result.findings.join(u'\n');
    QCOMPARE(result.holdings, int(records.size()));
    QTEST(result.overlaps, "overlaps");
    QTEST(result.lostUpdates, "lost");
    QTEST(result.lateSignals, "late");
    QCOMPARE(result.excusedLate + result.starvedLate, excused);
    QTEST(result.lateWrites, "lateWrites");
    QVERIFY2(result.livenessFailures == livenessFailures, qPrintable(findings));
}

// The rules of rolling-restart (locks held across a restart are kept) and alias (a worker
// given one process under two names is refused, naming both, and never holds).
void tst_SafetyChecker::scenarioRules_data()
{
    QTest::addColumn<QList<Rec>>("records");
    QTest::addColumn<QList<Fault>>("faults");
    QTest::addColumn<bool>("keepLocks");
    QTest::addColumn<QList<AliasWorker>>("aliases");
    QTest::addColumn<QList<Refused>>("refusals");
    QTest::addColumn<int>("heldAcross");
    QTest::addColumn<int>("lostAcross");
    QTest::addColumn<int>("aliasRefused");
    QTest::addColumn<int>("aliasHoldings");
    QTest::addColumn<int>("unexpected");
    QTest::addColumn<bool>("violated");

    const QList<AliasWorker> noAlias;
    const QList<Refused> noRefusal;
    // Rolling restart: server 0 down from 100 to 900 ms, server 1 from 1000 to 1800 ms.
    const QList<Fault> rolling{ { QStringLiteral("rolling-restart"), at(100), at(900), QString() },
                                { QStringLiteral("rolling-restart"), at(1000), at(1800), QString() } };
    const QList<Rec> kept{ { 0, 0, 2480, 2000, "released", 0, 1 } };
    const QList<Rec> expiredAcross{ { 0, 0, 1300, 1305, "expired", 1305, 1 },
                                    { 1, 1306, 2480, 2000, "released", 0, 1 } };
    QTest::newRow("a lock held across restarts and released")
            << kept << rolling << true << noAlias << noRefusal << 1 << 0 << 0 << 0 << 0 << false;
    QTest::newRow("a lock held across restarts that expired")
            << expiredAcross << rolling << true << noAlias << noRefusal << 2 << 1 << 0 << 0 << 0 << true;
    QTest::newRow("the same where the scenario does not promise it")
            << expiredAcross << rolling << false << noAlias << noRefusal << 2 << 1 << 0 << 0 << 0 << false;
    QTest::newRow("lost, but held between the restarts only")
            << QList<Rec>{ { 0, 0, 90, 80, "released", 0, 1 }, { 1, 910, 1400, 990, "lost", 990, 1 },
                           { 0, 1810, 2480, 2000, "released", 0, 1 } }
            << rolling << true << noAlias << noRefusal << 0 << 0 << 0 << 0 << 0 << false;
    QTest::newRow("lost while one server was down, granted after its kill")
            << QList<Rec>{ { 1, 200, 1400, 1100, "lost", 1100, 1 }, { 0, 1110, 2480, 2000, "released", 0, 1 } }
            << rolling << true << noAlias << noRefusal << 2 << 1 << 0 << 0 << 0 << true;

    // Alias: worker 1 was given redis://127.0.0.1:7001 and redis://0.0.0.0:7001/1.
    const QString a = QStringLiteral("redis://127.0.0.1:7001");
    const QString b = QStringLiteral("redis://0.0.0.0:7001/1");
    const QList<AliasWorker> alias{ { 1, { a, b } } };
    const QList<Rec> honest{ { 0, 0, 480, 300, "released" } };
    const QString both = QStringLiteral("one server reached under two names: %1 and %2 (same run_id)").arg(a, b);
    QTest::newRow("alias refused, naming both")
            << honest << QList<Fault>() << false << alias << QList<Refused>{ { 1, 5, "InvalidArgument", both } }
            << 0 << 0 << 1 << 0 << 0 << false;
    QTest::newRow("alias refused by setServers, naming both")
            << honest << QList<Fault>() << false << alias
            << QList<Refused>{ { 1, 0, "InvalidArgument", both, "setServers" } } << 0 << 0 << 1 << 0 << 0 << false;
    QTest::newRow("alias never refused")
            << honest << QList<Fault>() << false << alias << noRefusal << 0 << 0 << 0 << 0 << 0 << true;
    QTest::newRow("alias refused naming one URL only")
            << honest << QList<Fault>() << false << alias
            << QList<Refused>{ { 1, 5, "InvalidArgument", QStringLiteral("duplicate server %1").arg(b) } }
            << 0 << 0 << 0 << 0 << 0 << true;
    QTest::newRow("alias refused with another error")
            << honest << QList<Fault>() << false << alias << QList<Refused>{ { 1, 5, "NoQuorum", both } }
            << 0 << 0 << 0 << 0 << 0 << true;
    QTest::newRow("alias refused, but it held before")
            << QList<Rec>{ { 0, 0, 480, 300, "released" }, { 1, 310, 790, 600, "released" } } << QList<Fault>()
            << false << alias << QList<Refused>{ { 1, 700, "InvalidArgument", both } } << 0 << 0 << 1 << 1 << 0 << true;
    QTest::newRow("a refusal in a worker with a valid list")
            << honest << QList<Fault>() << false << noAlias
            << QList<Refused>{ { 0, 5, "InvalidArgument", QStringLiteral("TTL 300 ms is below the minimum 407 ms") } }
            << 0 << 0 << 0 << 0 << 1 << true;
}

void tst_SafetyChecker::scenarioRules()
{
    QFETCH(QList<Rec>, records);
    QFETCH(QList<Fault>, faults);
    QFETCH(bool, keepLocks);
    QFETCH(QList<AliasWorker>, aliases);
    QFETCH(QList<Refused>, refusals);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    RunMeta meta = baseMeta();
    meta.faults = faults;
    meta.locksSurviveFaults = keepLocks;
    meta.aliases = aliases;
    qint64 increments = 0;
    for (const Rec &r : std::as_const(records))
        increments += r.increments;
    CheckResult result;
    QString error;
    QVERIFY2(writeAndCheck(dir.path(), meta, records, increments, {}, refusals, &result, &error), qPrintable(error));
    const QString findings = result.findings.join(u'\n');
    QCOMPARE(result.overlaps, 0);
    QTEST(result.heldAcrossFaults, "heldAcross");
    QTEST(result.lostAcrossFaults, "lostAcross");
    QCOMPARE(result.lockLossFailures, keepLocks ? result.lostAcrossFaults : 0);
    QCOMPARE(result.aliasWorkers, int(aliases.size()));
    QTEST(result.aliasRefused, "aliasRefused");
    QTEST(result.aliasHoldings, "aliasHoldings");
    QTEST(result.unexpectedRefusals, "unexpected");
    QFETCH(bool, violated);
    QVERIFY2(result.violated() == violated, qPrintable(findings));
    QVERIFY(!result.safetyViolated()); // none of these rules is about the counter or overlaps
}

// The runner draws TTLs from the library's rule; pin the rule's arithmetic down.
void tst_SafetyChecker::minimumTtl()
{
    // ceil((4 x 100 + 2) / 0.99) = ceil(406.06) = 407, + 1 ms of margin.
    QCOMPARE(minimumTtlMs(100), 408);
    QCOMPARE(minimumTtlMs(50), 206);   // ceil(204.04) + 1
    QCOMPARE(minimumTtlMs(150), 610);  // ceil(608.08) + 1
    // 198 / 0.99 is 200 exactly, which the library's floating point may round up to 201:
    // the margin covers it.
    QCOMPARE(minimumTtlMs(49), 201);
    for (int ttl = 210; ttl <= 3000; ttl += 7) {
        const int t = maximumServerTimeoutMs(ttl);
        QVERIFY(minimumTtlMs(t) <= ttl);
        QVERIFY(minimumTtlMs(t + 1) > ttl);
    }
}

// Scheduled jobs: an occurrence started by two workers is a safety violation; runs of
// different occurrences, and long gaps between runs, are not.
void tst_SafetyChecker::scheduledJob_occurrenceRunTwice_data()
{
    QTest::addColumn<QByteArray>("runs0");
    QTest::addColumn<QByteArray>("runs1");
    QTest::addColumn<int>("twice");
    const QByteArray a = QByteArray::number(1000000) + '\t' + QByteArray::number(at(0)) + "\t0\n";
    const QByteArray b = QByteArray::number(1001000) + '\t' + QByteArray::number(at(1000)) + "\t1\n";
    const QByteArray a1 = QByteArray::number(1000000) + '\t' + QByteArray::number(at(600)) + "\t1\n";
    QTest::newRow("one run per occurrence") << a << b << 0;
    QTest::newRow("an occurrence started by two workers") << a << a1 + b << 1;
}

void tst_SafetyChecker::scheduledJob_occurrenceRunTwice()
{
    QFETCH(QByteArray, runs0);
    QFETCH(QByteArray, runs1);
    QFETCH(int, twice);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    RunMeta meta = baseMeta();
    meta.scheduledJob = true;
    for (int w = 0; w < 2; ++w) {
        QFile file(QDir(dir.path()).filePath(QStringLiteral("worker-%1.log.runs").arg(w)));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(w == 0 ? runs0 : runs1);
    }
    // Two short runs a second apart: far apart for the lock's liveness rule, fine for a job.
    CheckResult result;
    QString error;
    QVERIFY2(writeAndCheck(dir.path(), meta,
                           { { 0, 0, 400, 5, "released" }, { 1, 1000, 1400, 1005, "released" } }, 2, {}, {},
                           &result, &error),
             qPrintable(error));
    QCOMPARE(result.occurrencesRunTwice, twice);
    QCOMPARE(result.occurrences, 2);
    QCOMPARE(result.livenessFailures, 0);
    QCOMPARE(result.safetyViolated(), twice > 0);
}

QTEST_GUILESS_MAIN(tst_SafetyChecker)
#include "tst_checker.moc"
