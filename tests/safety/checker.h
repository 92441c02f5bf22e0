// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The safety checker: reads what one run left in its folder (meta.json, the workers' logs,
// their refusals, the counter file) and judges it. It knows nothing about how the run was made.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>

namespace QRedlockSafety {

// A late lost()/expired() is one delivered more than this after the validity deadline the
// library reported. Why not 0: the expiry timer has millisecond resolution, the deadline the
// worker computes from remainingValidity() is rounded down to a millisecond, and the signal
// still has to be dispatched by the worker's event loop on a loaded 2-core machine.
constexpr double LateToleranceMs = 5.0;

// What the runner records about a run (meta.json in the run folder).
struct Fault
{
    QString kind;
    qint64 startNs = 0;
    qint64 healNs = 0; // 0: never heals (e.g. a server whose clock runs fast for the whole run)
    QString detail;
    // false: the fault outlasted every lease (e.g. a majority down for several TTLs), so no
    // key is left to wait for after the heal and recovery is judged without the TTL term.
    bool leftKeys = true;
};

struct Pause // a worker did not run: SIGSTOPped by the runner, or a stall the worker measured
{
    int worker = 0;
    qint64 stopNs = 0;
    qint64 resumeNs = 0;
    bool stall = false; // from the worker's heartbeat (not saved in meta.json: read from the logs)
};

// A worker whose server list names one redis-server process twice (scenario alias): the
// library must refuse the set, so the worker never holds and reports an InvalidArgument
// whose message names both URLs.
struct AliasWorker
{
    int worker = 0;
    QStringList urls; // the two names of one process, exactly as the worker was given them
};

// The library's minimum TTL for a server timeout: ceil((4 x serverTimeout + 2) / (1 - drift))
// with the default drift factor 0.01, plus 1 ms so that its floating-point rounding cannot
// disagree with ours. Every run's parameters satisfy it (the runner checks).
constexpr int minimumTtlMs(int serverTimeoutMs) { return ((4 * serverTimeoutMs + 2) * 100 + 98) / 99 + 1; }
// The same for another drift factor (percent, 1..99).
constexpr int minimumTtlMs(int serverTimeoutMs, int driftPercent)
{
    return ((4 * serverTimeoutMs + 2) * 100 + (99 - driftPercent)) / (100 - driftPercent) + 1;
}
// The largest server timeout a TTL allows under that rule.
constexpr int maximumServerTimeoutMs(int ttlMs)
{
    int t = ttlMs / 4;
    while (t > 1 && minimumTtlMs(t) > ttlMs)
        --t;
    return t;
}

struct RunMeta
{
    QString scenario;
    bool negative = false;     // a negative control: a violation is expected
    quint64 seed = 0;
    int servers = 0;
    int workers = 0;
    int ttl = 0;
    bool autoExtend = false;
    int retryDelay = 0;
    int retryJitter = 0;
    int serverTimeout = 0;
    qint64 startNs = 0;        // workers started
    qint64 steadyNs = 0;       // liveness is judged from here on (first connections made)
    qint64 stopNs = 0;         // workers stopped wanting the lock
    QList<Fault> faults;
    QList<Pause> pauses;
    // Every holding held across a fault (a server killed or restarted while it was held) must
    // end by release, never lost/expired (scenario rolling-restart: quorum repair).
    bool locksSurviveFaults = false;
    QList<AliasWorker> aliases;
    // The workers are instances of a scheduled job (scenario scheduled-job): each occurrence
    // must be started at most once (worker-N.log.runs); the lock's liveness rule does not
    // apply (the job wants its lock once per occurrence, not all the time).
    bool scheduledJob = false;
    QStringList setupErrors;   // the run itself went wrong (a fault had no effect, a worker crashed...)

    // After a fault heals, the lock must be taken again within this time.
    double recoveryBoundMs() const;
    double recoveryBoundMs(const Fault &healed) const;
    bool save(const QString &path) const;
    bool load(const QString &path, QString *error);
};

struct CheckResult
{
    int holdings = 0;
    qint64 increments = 0;     // completed read-modify-writes, from the logs
    qint64 counter = 0;        // the counter file at the end
    int overlaps = 0;          // pairs of holdings of different workers that intersect
    double worstOverlapMs = 0;
    qint64 lostUpdates = 0;    // increments - counter (non-zero either way is a violation)
    int lateSignals = 0;       // lost/expired later than deadline + tolerance (process running)
    double worstLatenessMs = 0;    // the latest signal relative to its deadline, excused ones aside
    int excusedLate = 0;       // late only because the worker was SIGSTOPped over its deadline
    int starvedLate = 0;       // late only because the worker's process did not run (a stall)
    int lateWrites = 0;        // counter writes after the holding's end or deadline
    double worstRecoveryMs = -1;   // heal -> lock taken again (-1: no fault healed)
    double worstGapMs = 0;     // longest time nobody held the lock while it was wanted, after heals
    int livenessFailures = 0;  // recoveries / gaps beyond recoveryBoundMs()
    // Holdings whose span contains a fault's start or heal (a server killed or restarted while
    // held), and how many of them ended lost/expired. A violation where locksSurviveFaults.
    int heldAcrossFaults = 0;
    int lostAcrossFaults = 0;
    int lockLossFailures = 0;  // lostAcrossFaults when the run's meta demands survival, else 0
    // Scenario alias: workers given one process under two names; how many reported a refusal
    // that names both; holdings they got anyway (each one a violation).
    int aliasWorkers = 0;
    int aliasRefused = 0;
    int aliasHoldings = 0;
    // acquireFailed (or a refused server list) in a worker whose configuration is valid.
    int unexpectedRefusals = 0;
    // Scheduled jobs: occurrences started, and those started more than once (violations).
    int occurrences = 0;
    int occurrencesRunTwice = 0;
    QStringList findings;      // human-readable details of every violation (capped)

    bool safetyViolated() const
    {
        return overlaps > 0 || lostUpdates != 0 || lateWrites > 0 || occurrencesRunTwice > 0;
    }
    bool violated() const
    {
        return safetyViolated() || lateSignals > 0 || livenessFailures > 0 || lockLossFailures > 0
                || aliasHoldings > 0 || aliasRefused < aliasWorkers || unexpectedRefusals > 0;
    }
};

// Checks the run folder. Returns false (with *error) if it cannot be read at all.
bool checkRun(const QString &dir, RunMeta *meta, CheckResult *result, QString *error);

} // namespace QRedlockSafety
