// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// One randomized safety run: servers behind fault proxies, worker processes contending for
// one resource, and a scenario that injects faults while they do. The run leaves everything
// the checker needs in its folder (see checker.h).
#pragma once

#include "checker.h"

#include <QList>
#include <QRandomGenerator>
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>
#include <vector>

QT_BEGIN_NAMESPACE
class QProcess;
class QTemporaryDir;
QT_END_NAMESPACE

namespace QRedlockTest {
class FaultProxy;
class RedisServer;
}

namespace QRedlockSafety {

class Run;
class NetworkThread;

struct Scenario
{
    QString name;
    bool negative = false;
    QString summary;
    // Picks the scenario's parameters (after the common random ones).
    std::function<void(Run &)> configure;
    // Injects one fault and heals it; called as long as the run has time for another one.
    // Empty: the fault (if any) lasts the whole run.
    std::function<void(Run &)> episode;
    // Called once the servers and proxies run, before the workers start (e.g. to give some
    // workers server lists of their own, or to take a server down before anyone connects).
    std::function<void(Run &)> beforeWorkers = {};
    // Outside Redlock's model (another client deletes the keys): the run reports what
    // happened (Run::report()) and never fails on overlaps or lost updates.
    bool reportOnly = false;
};

const QList<Scenario> &scenarios();

// Where the runner finds its helpers.
struct Tools
{
    QString worker;   // qredlock_safety_worker
    QString clockShim; // libqredlock_clockshim.so
    QString faketime; // Debian's libfaketime.so.1
};

class Run
{
public:
    Run(const Scenario &scenario, quint64 seed, double seconds, const Tools &tools);
    ~Run();

    // Runs everything and checks the result. false: the run could not be made (*error).
    bool execute(const QString &dir, QString *error);
    const RunMeta &meta() const { return m_meta; }
    const CheckResult &result() const { return m_result; }
    QString parameters() const;
    // Scenario foreign-delete: per deletion, the time to the old holder's end and whether
    // another worker was granted the lock before it.
    QString report() const;

    // ---- for the scenarios ----
    QRandomGenerator rng;
    int serverCount = 3;
    int workerCount = 3;
    int ttl = 800;
    bool autoExtend = false;
    bool notifications = true;    // the workers' LockManager::notifications
    int holdMinMs = 1;
    int holdMaxMs = 400;
    int retryDelay = 50;
    int retryJitter = 25;
    int serverTimeout = 100;
    bool persistence = false;
    double fastSpeed = 1.0;       // for the servers in fastServers
    int driftPercent = 1;         // the workers' LockManager::driftFactor, in percent
    QList<int> fastServers;
    bool clockJumpWorkers = false; // run the workers under libfaketime
    bool locksSurviveFaults = false; // judge: no holding held across a fault may end lost/expired
    bool scheduledJob = false;       // the workers run a scheduled SingletonJob (--job)
    QList<int> roles;                // scenario-specific server indexes (alias: aliased ones, then the third)

    int quorum() const { return serverCount / 2 + 1; }
    int between(int lo, int hi) { return hi <= lo ? lo : lo + int(rng.bounded(hi - lo + 1)); }
    double between(double lo, double hi) { return lo + (hi - lo) * rng.generateDouble(); }
    QList<int> pickServers(int count); // distinct random indexes
    int faultDurationMs();             // longer than the TTL: 1.2 .. 2 x TTL
    qint64 now() const;
    int remainingMs() const;           // until the workers stop wanting the lock

    // Lets the event loop run (worker output, timers) for ms.
    void spin(int ms);
    // Waits up to timeoutMs for a worker that holds the lock, granted at most maxAgeMs ago
    // (-1: any age); -1 if none.
    int waitForHolder(int timeoutMs, int maxAgeMs = -1);
    void startFault(const QString &kind, const QString &detail);
    void healFault();
    // The open fault outlasts every lease: no key is left when it heals (tighter recovery bound).
    void markNoLeftKeys();
    // Another client deletes the lock's key on these servers now (scenario foreign-delete).
    void deleteKeyForeignly(const QList<int> &servers, int holder);

    QRedlockTest::RedisServer &server(int i);
    // Runs fn on every proxy of the given servers (all workers), in the network thread.
    void onProxies(const QList<int> &servers, const std::function<void(QRedlockTest::FaultProxy &)> &fn);
    void onProxy(int worker, int server, const std::function<void(QRedlockTest::FaultProxy &)> &fn);
    // Heals the proxies of the given servers: every rule off, every connection reset (a
    // connection whose bytes were swallowed could not be trusted by TCP either).
    void clearProxies(const QList<int> &servers, int onlyWorker = -1);
    void pauseWorker(int worker);
    // Makes the worker stop itself between its validity check and its counter write (the
    // negative control of Redlock's known limit); false if it did not within timeoutMs.
    bool pauseWorkerInWriteWindow(int worker, int timeoutMs);
    void resumeWorker(int worker);
    void setClientClockOffset(const QString &spec); // libfaketime spec, e.g. "+10s"
    QList<int> allServers() const;

    // ---- for beforeWorkers ----
    // The URL through which worker w reaches server s normally (its own fault proxy).
    QString proxyUrl(int worker, int server) const;
    quint16 proxyPort(int worker, int server) const;
    // One more proxy to the server, outside the per-worker grid (another address of the same
    // process); returns its port, 0 on failure.
    quint16 addSpareProxy(int server);
    // Gives worker w this server list instead of its proxies; aliasUrls: the two names of one
    // process in it, which the library must refuse (recorded in meta.json for the checker).
    void setWorkerServers(int worker, const QStringList &urls, const QStringList &aliasUrls = {});

private:
    struct ForeignDelete
    {
        qint64 atNs = 0;
        int holder = -1;
        qint64 endNs = -1;         // the holder's holding ended (lost, expired or released)
        QByteArray reason;
        bool grantedBefore = false; // another worker was granted before that end
    };
    QList<ForeignDelete> m_foreignDeletes;
    struct WorkerProcess;
    bool startServers(QString *error);
    bool startWorkers(QString *error);
    void onWorkerOutput(int index);
    void finishWorkers();
    void verifyFaultsTookEffect();
    bool waitUntilStopped(int worker, int timeoutMs); // the process shows as stopped ('T')

    const Scenario &m_scenario;
    double m_seconds;
    Tools m_tools;
    QString m_dir;
    RunMeta m_meta;
    CheckResult m_result;
    std::vector<std::unique_ptr<QRedlockTest::RedisServer>> m_servers;
    std::unique_ptr<NetworkThread> m_net;
    std::vector<std::vector<QRedlockTest::FaultProxy *>> m_proxies; // [worker][server]
    std::vector<QRedlockTest::FaultProxy *> m_spareProxies;
    QList<QStringList> m_workerUrls; // per worker; empty: its proxies
    std::vector<std::unique_ptr<WorkerProcess>> m_workers;
    qint64 m_serversStartedWallMs = 0;
    qint64 m_firstStopNs = 0; // the first worker that stopped wanting the lock
    qint64 m_stopAt = 0;      // the workers stop wanting the lock (planned)
    int m_openFault = -1;
};

} // namespace QRedlockSafety
