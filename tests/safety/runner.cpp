// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// qredlock_safety_runner: runs randomized safety runs (see safetyrun.h), checks each one
// (checker.h) and prints a table per scenario. Exit code 0 only if no safe scenario showed a
// violation, every negative control was detected and every run could be made.
//
// Usually started through tests/safety/run; see tests/safety/README.md.

#include "checker.h"
#include "safetyrun.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QTemporaryDir>

#include <algorithm>
#include <cstdio>

using namespace QRedlockSafety;

namespace {

void out(const QString &text)
{
    std::fputs(qPrintable(text), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

quint64 runSeed(quint64 master, int index)
{
    if (index == 0)
        return master;
    quint64 z = master + quint64(index) * 0x9E3779B97F4A7C15ULL; // splitmix64
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (z ^ (z >> 31)) & 0xFFFFFFFFULL;
}

struct Totals
{
    int runs = 0;
    int failed = 0;       // violations in a safe scenario, undetected negatives, broken runs
    int detected = 0;     // negative controls that were caught
    qint64 holdings = 0;
    qint64 increments = 0;
    qint64 overlaps = 0;
    qint64 lostUpdates = 0;
    qint64 lateSignals = 0;
    qint64 excusedLate = 0;
    qint64 starvedLate = 0;
    qint64 lateWrites = 0;
    double worstLatenessMs = 0;
    double worstRecoveryMs = -1;
    double worstRecoveryShare = 0; // recovery / (TTL + retry delay) of its run: issue #4's literal bound is 1
    double worstGapMs = 0;
    int livenessFailures = 0;
    bool keepsLocks = false;    // some run demanded that locks survive its faults
    qint64 heldAcross = 0;
    qint64 lostAcross = 0;
    qint64 aliasWorkers = 0;
    qint64 aliasRefused = 0;
    qint64 aliasHoldings = 0;
    qint64 unexpectedRefusals = 0;

    void add(const CheckResult &r)
    {
        heldAcross += r.heldAcrossFaults;
        lostAcross += r.lostAcrossFaults;
        aliasWorkers += r.aliasWorkers;
        aliasRefused += r.aliasRefused;
        aliasHoldings += r.aliasHoldings;
        unexpectedRefusals += r.unexpectedRefusals;
        holdings += r.holdings;
        increments += r.increments;
        overlaps += r.overlaps;
        lostUpdates += std::abs(r.lostUpdates);
        lateSignals += r.lateSignals;
        excusedLate += r.excusedLate;
        starvedLate += r.starvedLate;
        lateWrites += r.lateWrites;
        worstLatenessMs = std::max(worstLatenessMs, r.worstLatenessMs);
        worstRecoveryMs = std::max(worstRecoveryMs, r.worstRecoveryMs);
        worstGapMs = std::max(worstGapMs, r.worstGapMs);
        livenessFailures += r.livenessFailures;
    }
    void add(const RunMeta &meta, const CheckResult &r)
    {
        add(r);
        keepsLocks = keepsLocks || meta.locksSurviveFaults;
        if (r.worstRecoveryMs > 0 && meta.ttl + meta.retryDelay > 0)
            worstRecoveryShare = std::max(worstRecoveryShare, r.worstRecoveryMs / double(meta.ttl + meta.retryDelay));
    }
};

// Judges one checked run. Returns the verdict word; *failed tells whether it fails the suite.
QString verdict(const RunMeta &meta, const CheckResult &r, bool *failed)
{
    if (!meta.setupErrors.isEmpty()) {
        *failed = true;
        return QStringLiteral("BROKEN");
    }
    if (meta.negative) {
        *failed = !r.safetyViolated();
        return *failed ? QStringLiteral("UNDETECTED") : QStringLiteral("detected");
    }
    *failed = r.violated();
    return *failed ? QStringLiteral("VIOLATION") : QStringLiteral("ok");
}

// The scenario's own rule, if it has one: "lost L/H" (holdings held across a restart that
// ended lost/expired, of those held across one), "refused R/A held N" (alias workers).
QString ruleCell(bool keepsLocks, qint64 held, qint64 lost, qint64 aliasWorkers, qint64 refused, qint64 aliasHeld)
{
    QStringList parts;
    if (keepsLocks)
        parts << QStringLiteral("lost %1/%2").arg(lost).arg(held);
    if (aliasWorkers)
        parts << QStringLiteral("refused %1/%2 held %3").arg(refused).arg(aliasWorkers).arg(aliasHeld);
    return parts.isEmpty() ? QStringLiteral("-") : parts.join(u' ');
}

QString summaryLine(const RunMeta &meta, const CheckResult &r)
{
    QString line = QStringLiteral("holdings %1 overlaps %2 lost %3 late %4 (+%5 paused +%6 stalled) worst-late %7 ms "
                                  "recovery %8 ms gap %9 ms")
            .arg(r.holdings).arg(r.overlaps).arg(r.lostUpdates).arg(r.lateSignals).arg(r.excusedLate)
            .arg(r.starvedLate).arg(r.worstLatenessMs, 0, 'f', 1).arg(r.worstRecoveryMs, 0, 'f', 0).arg(r.worstGapMs, 0, 'f', 0);
    // Only where they apply, so that the lines of the other scenarios stay as they were.
    if (meta.locksSurviveFaults)
        line += QStringLiteral(" held-across %1 lost-across %2").arg(r.heldAcrossFaults).arg(r.lostAcrossFaults);
    if (meta.scheduledJob)
        line += QStringLiteral(" occurrences %1 run-twice %2").arg(r.occurrences).arg(r.occurrencesRunTwice);
    if (r.aliasWorkers)
        line += QStringLiteral(" alias-refused %1/%2 alias-held %3").arg(r.aliasRefused).arg(r.aliasWorkers).arg(r.aliasHoldings);
    if (r.unexpectedRefusals)
        line += QStringLiteral(" refusals %1").arg(r.unexpectedRefusals);
    return line;
}

void printDetails(const RunMeta &meta, const CheckResult &r)
{
    for (const QString &e : meta.setupErrors)
        out(QStringLiteral("      run error: ") + e);
    for (const QString &f : r.findings)
        out(QStringLiteral("      ") + f);
}

QString findFaketime()
{
    const QString env = qEnvironmentVariable("QREDLOCK_FAKETIME_LIB");
    if (!env.isEmpty())
        return env;
    for (const char *dir : { "/usr/lib/x86_64-linux-gnu/faketime", "/usr/lib/aarch64-linux-gnu/faketime",
                             "/usr/lib/faketime", "/usr/local/lib/faketime" }) {
        const QString path = QString::fromLatin1(dir) + QStringLiteral("/libfaketime.so.1");
        if (QFileInfo::exists(path))
            return path;
    }
    return QString();
}

int checkOnly(const QString &dir)
{
    RunMeta meta;
    CheckResult r;
    QString error;
    if (!checkRun(dir, &meta, &r, &error)) {
        out(QStringLiteral("cannot check %1: %2").arg(dir, error));
        return 2;
    }
    bool failed = false;
    const QString word = verdict(meta, r, &failed);
    out(QStringLiteral("%1 seed %2: %3  %4").arg(meta.scenario).arg(meta.seed).arg(summaryLine(meta, r), word));
    printDetails(meta, r);
    return failed ? 1 : 0;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral("QRedlock safety runs: contention under injected faults, checked for "
                                               "overlaps, lost updates, late signals and liveness."));
    p.addHelpOption();
    const QCommandLineOption runsOpt(QStringLiteral("runs"), QStringLiteral("Number of runs, spread round-robin over the scenarios (default: one per scenario)."), QStringLiteral("N"));
    const QCommandLineOption secondsOpt(QStringLiteral("seconds"), QStringLiteral("Contention time of each run (default 8)."), QStringLiteral("S"), QStringLiteral("8"));
    const QCommandLineOption seedOpt(QStringLiteral("seed"), QStringLiteral("Master seed (default: random, printed)."), QStringLiteral("X"));
    const QCommandLineOption scenarioOpt(QStringLiteral("scenario"), QStringLiteral("Only this scenario (repeatable)."), QStringLiteral("name"));
    const QCommandLineOption listOpt(QStringLiteral("list"), QStringLiteral("List the scenarios and exit."));
    const QCommandLineOption keepOpt(QStringLiteral("keep"), QStringLiteral("Keep every run folder (failed ones are always kept)."));
    const QCommandLineOption checkOpt(QStringLiteral("check"), QStringLiteral("Only check a kept run folder again."), QStringLiteral("dir"));
    const QCommandLineOption fromOpt(QStringLiteral("from"), QStringLiteral("Start at run number K of the --runs plan (resumes a long profile: same seeds, same scenarios)."), QStringLiteral("K"), QStringLiteral("1"));
    const QCommandLineOption quietOpt(QStringLiteral("quiet"), QStringLiteral("No line per run, only failures and the table."));
    const QCommandLineOption planOpt(QStringLiteral("plan"), QStringLiteral("Print each run's scenario, seed and parameters without running anything."));
    p.addOptions({ runsOpt, secondsOpt, seedOpt, scenarioOpt, listOpt, keepOpt, checkOpt, fromOpt, quietOpt, planOpt });
    p.process(app);

    if (p.isSet(checkOpt))
        return checkOnly(p.value(checkOpt));
    if (p.isSet(listOpt)) {
        for (const Scenario &s : scenarios())
            out(QStringLiteral("%1  %2").arg(s.name, -22).arg(s.summary));
        return 0;
    }

    QList<const Scenario *> selected;
    const QStringList wanted = p.values(scenarioOpt);
    for (const Scenario &s : scenarios()) {
        if (wanted.isEmpty() || wanted.contains(s.name))
            selected << &s;
    }
    if (selected.isEmpty() || selected.size() < wanted.size()) {
        out(QStringLiteral("unknown scenario in %1; see --list").arg(wanted.join(u' ')));
        return 2;
    }
    const int runs = p.isSet(runsOpt) ? p.value(runsOpt).toInt() : int(selected.size());
    const double seconds = p.value(secondsOpt).toDouble();
    bool seedOk = true;
    const quint64 master = p.isSet(seedOpt) ? p.value(seedOpt).toULongLong(&seedOk)
                                            : quint64(QRandomGenerator::system()->generate());
    const int from = p.value(fromOpt).toInt();
    if (runs <= 0 || seconds <= 0 || !seedOk || from < 1 || from > runs) {
        out(QStringLiteral("--runs and --seconds must be positive, --seed a number, --from within the runs"));
        return 2;
    }

    // The plan, shared by --plan and the runs: run i gets the scenarios round-robin and a
    // seed derived from the master seed.
    const auto scenarioIndex = [&](int i) { return i % int(selected.size()); };
    const auto runHead = [&](int i) {
        return QStringLiteral("[%1/%2] %3 seed %4").arg(i + 1).arg(runs)
                .arg(selected.at(scenarioIndex(i))->name, -20).arg(runSeed(master, i), -10);
    };

    if (p.isSet(planOpt)) {
        // The parameters come from the seed alone, so a finished profile's figures can be
        // joined with them afterwards (e.g. each recovery against its run's TTL).
        for (int i = from - 1; i < runs; ++i) {
            const Run run(*selected.at(scenarioIndex(i)), runSeed(master, i), seconds, Tools());
            out(runHead(i) + u' ' + run.parameters());
        }
        return 0;
    }

    Tools tools;
    const QDir binDir(QCoreApplication::applicationDirPath());
    tools.worker = binDir.filePath(QStringLiteral("qredlock_safety_worker"));
    tools.clockShim = binDir.filePath(QStringLiteral("libqredlock_clockshim.so"));
    tools.faketime = findFaketime();
    for (const QString &needed : { tools.worker, tools.clockShim }) {
        if (!QFileInfo::exists(needed)) {
            out(QStringLiteral("missing %1: build the targets qredlock_safety_worker and qredlock_clockshim").arg(needed));
            return 2;
        }
    }
    if (tools.faketime.isEmpty()) {
        out(QStringLiteral("libfaketime.so.1 not found (Debian package faketime, or set QREDLOCK_FAKETIME_LIB)"));
        return 2;
    }

    QTemporaryDir base(QDir::tempPath() + QStringLiteral("/qredlock-safety-XXXXXX"));
    if (!base.isValid()) {
        out(QStringLiteral("cannot create a temporary folder"));
        return 2;
    }
    out(QStringLiteral("QRedlock safety: %1 runs of %2 s, master seed %3 (replay: tests/safety/run --runs %1 --seconds %2 --seed %3%4)%5")
                .arg(runs).arg(seconds).arg(master)
                .arg(wanted.isEmpty() ? QString() : QStringLiteral(" --scenario ") + wanted.join(QStringLiteral(" --scenario ")))
                .arg(from > 1 ? QStringLiteral(", from run %1").arg(from) : QString()));

    QList<Totals> perScenario(selected.size());
    bool anyKept = false;
    for (int i = from - 1; i < runs; ++i) {
        const int si = scenarioIndex(i);
        const Scenario &scenario = *selected.at(si);
        const quint64 seed = runSeed(master, i);
        const QString dir = base.filePath(QStringLiteral("run-%1-%2").arg(i + 1, 4, 10, QLatin1Char('0')).arg(scenario.name));
        QDir().mkpath(dir);

        QElapsedTimer clock;
        clock.start();
        Run run(scenario, seed, seconds, tools);
        QString error;
        const bool made = run.execute(dir, &error);
        Totals &t = perScenario[si];
        ++t.runs;
        bool failed = true;
        QString word = QStringLiteral("BROKEN");
        if (made && scenario.reportOnly) {
            failed = !run.meta().setupErrors.isEmpty();
            word = failed ? QStringLiteral("BROKEN") : QStringLiteral("REPORTED");
            t.add(run.meta(), run.result());
            out(QStringLiteral("      %1: %2").arg(scenario.name, run.report()));
        } else if (made) {
            word = verdict(run.meta(), run.result(), &failed);
            t.add(run.meta(), run.result());
            if (run.meta().negative && !failed)
                ++t.detected;
        }
        if (failed)
            ++t.failed;
        const QString head = runHead(i);
        if (failed || !p.isSet(quietOpt))
            out(QStringLiteral("%1 %2  %3 (%4 s)").arg(head, made ? summaryLine(run.meta(), run.result()) : error, word)
                        .arg(double(clock.elapsed()) / 1000, 0, 'f', 1));
        if (failed) {
            out(QStringLiteral("      parameters: %1").arg(run.parameters()));
            if (made)
                printDetails(run.meta(), run.result());
            out(QStringLiteral("      kept: %1").arg(dir));
            out(QStringLiteral("      replay: tests/safety/run --scenario %1 --seed %2 --runs 1 --seconds %3")
                        .arg(scenario.name).arg(seed).arg(seconds));
        }
        if (failed || p.isSet(keepOpt))
            anyKept = true;
        else
            QDir(dir).removeRecursively();
    }
    base.setAutoRemove(!anyKept);

    out(QString());
    out(QStringLiteral("%1 %2 %3 %4 %5 %6 %7 %8 %9 %10 %11 %12")
                .arg(QStringLiteral("scenario"), -22).arg(QStringLiteral("runs"), 5)
                .arg(QStringLiteral("holdings"), 9).arg(QStringLiteral("overlaps"), 9)
                .arg(QStringLiteral("lost-upd"), 9).arg(QStringLiteral("late-sig"), 9)
                .arg(QStringLiteral("late-ms"), 8).arg(QStringLiteral("recov-ms"), 9)
                .arg(QStringLiteral("gap-ms"), 7).arg(QStringLiteral("recov/ttl+rd"), 12)
                .arg(QStringLiteral("own rule"), -20).arg(QStringLiteral("verdict")));
    Totals all;
    int failedRuns = 0;
    for (int si = 0; si < selected.size(); ++si) {
        const Totals &t = perScenario.at(si);
        if (t.runs == 0)
            continue;
        const Scenario &s = *selected.at(si);
        QString word;
        if (s.reportOnly)
            word = t.failed ? QStringLiteral("BROKEN %1/%2").arg(t.failed).arg(t.runs) : QStringLiteral("reported");
        else if (s.negative)
            word = QStringLiteral("%1/%2 detected").arg(t.detected).arg(t.runs);
        else
            word = t.failed ? QStringLiteral("FAILED %1/%2").arg(t.failed).arg(t.runs) : QStringLiteral("ok");
        if (s.negative && t.failed)
            word += QStringLiteral(" FAILED");
        QString late = QString::number(t.lateSignals);
        if (t.excusedLate)
            late += QStringLiteral("+%1p").arg(t.excusedLate);
        if (t.starvedLate)
            late += QStringLiteral("+%1s").arg(t.starvedLate);
        const QString rule = ruleCell(t.keepsLocks, t.heldAcross, t.lostAcross, t.aliasWorkers, t.aliasRefused,
                                      t.aliasHoldings);
        out(QStringLiteral("%1 %2 %3 %4 %5 %6 %7 %8 %9 %10 %11 %12")
                    .arg(s.name, -22).arg(t.runs, 5).arg(t.holdings, 9).arg(t.overlaps, 9).arg(t.lostUpdates, 9)
                    .arg(late, 9).arg(t.worstLatenessMs, 8, 'f', 1)
                    .arg(s.negative ? QStringLiteral("-") : QString::number(t.worstRecoveryMs, 'f', 0), 9)
                    .arg(s.negative ? QStringLiteral("-") : QString::number(t.worstGapMs, 'f', 0), 7)
                    .arg(s.negative ? QStringLiteral("-") : QString::number(t.worstRecoveryShare, 'f', 2), 12)
                    .arg(rule, -20).arg(word));
        failedRuns += t.failed;
        if (!s.negative && !s.reportOnly) {
            all.runs += t.runs;
            all.holdings += t.holdings;
            all.overlaps += t.overlaps;
            all.lostUpdates += t.lostUpdates;
            all.lateSignals += t.lateSignals;
            all.worstRecoveryShare = std::max(all.worstRecoveryShare, t.worstRecoveryShare);
        }
    }
    out(QString());
    out(QStringLiteral("safe scenarios: %1 runs, %2 holdings, %3 overlaps, %4 lost updates, %5 late signals; "
                       "late = signal > deadline + %6 ms (excused: +Np the worker was SIGSTOPped over its deadline, +Ns its "
                       "process did not run then, see README); the slowest recovery after a heal took %7 of its run's "
                       "TTL + retry delay")
                .arg(all.runs).arg(all.holdings).arg(all.overlaps).arg(all.lostUpdates).arg(all.lateSignals)
                .arg(LateToleranceMs).arg(all.worstRecoveryShare, 0, 'f', 2));
    out(failedRuns ? QStringLiteral("RESULT: FAILED (%1 runs; seed %2)").arg(failedRuns).arg(master)
                   : QStringLiteral("RESULT: PASSED (seed %1)").arg(master));
    if (anyKept)
        out(QStringLiteral("run folders kept under %1").arg(base.path()));
    return failedRuns ? 1 : 0;
}
