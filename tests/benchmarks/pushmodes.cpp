// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// lockbench modes of push coordination (LockManager::notifications):
//   fair-handoff  N processes contend for one resource with the defaults; release-to-grant,
//                 share of releases to a waiter, split-vote rounds per handoff (--peer node:
//                 the contenders are node-redlock's, peers/redlock-handoff.js)
//   wait-load     100 waiters wait on one held lock: commands/s the servers receive
//   loss          a holder's keys deleted on a quorum, or a majority restarted empty: time to lost()
// Every mode takes --no-notifications for the polling figures.
#include "benchutil.h"
#include "modes.h"
#include "rawredisclient.h"
#include "redisserver.h"

#include <QRedlock/DistributedLock>
#include <QRedlock/LockManager>

#include <QtCore/QCoreApplication>
#include <QtCore/QDateTime>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QProcess>
#include <QtCore/QTimer>

#include <algorithm>
#include <ctime>
#include <memory>
#include <vector>

using QRedlock::DistributedLock;
using QRedlock::LockManager;

namespace LockBench {

namespace {

qint64 machineNs() // CLOCK_MONOTONIC: shared by every process of the machine
{
    timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return qint64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::unique_ptr<LockManager> pushManager(const QStringList &urls, const Options &options)
{
    auto m = std::make_unique<LockManager>();
    if (!m->setServers(urls))
        fail(QStringLiteral("setServers: %1").arg(m->errorString()));
    m->setNotifications(!options.has(QStringLiteral("no-notifications")));
    m->setRetryCount(-1);
    if (!spinUntil([&] {
            const QVariantList status = m->serverStatus();
            return std::all_of(status.begin(), status.end(),
                               [](const QVariant &s) { return s.toMap().value(QStringLiteral("connected")).toBool(); });
        }, 10000))
        fail(QStringLiteral("servers not reachable"));
    return m;
}

// Sum of the calls of every command on every server (INFO commandstats).
qint64 commandCalls(const QStringList &urls)
{
    qint64 total = 0;
    for (const QString &url : urls) {
        QRedlockTest::RawRedisClient c;
        if (!c.connectToHost(QStringLiteral("127.0.0.1"), ServerSet::portOf(url)))
            return -1;
        const QByteArray info = c.command({ "INFO", "commandstats" }).toByteArray();
        for (const QByteArray &line : info.split('\n')) {
            const qsizetype at = line.indexOf("calls=");
            if (line.startsWith("cmdstat_") && at > 0)
                total += line.mid(at + 6, line.indexOf(',', at) - at - 6).toLongLong();
        }
    }
    return total;
}

} // namespace

// ---- fair-handoff ------------------------------------------------------------------------

int runFairHandoffChild(const Options &options)
{
    const QStringList urls = options.list(QStringLiteral("urls"));
    auto manager = pushManager(urls, options);
    const int holdMs = options.intValue(QStringLiteral("hold-ms"), 100);
    const int againMs = options.intValue(QStringLiteral("again-ms"), 50);
    DistributedLock lock;
    lock.setManager(manager.get());
    lock.setResource(options.value(QStringLiteral("resource")));
    lock.setTtl(10000);
    QJsonArray events; // [kind, ns]: "w" wants it, "g" granted, "r" release sent
    int splits = 0;
    QList<double> lastSplit;
    QObject::connect(&lock, &DistributedLock::serverStatusChanged, &lock, [&] {
        if (lock.state() != DistributedLock::State::Acquiring)
            return;
        int granted = 0;
        QList<double> latencies;
        const QList<DistributedLock::ServerOutcome> outcomes = lock.serverOutcomes();
        for (const auto &o : outcomes) {
            if (o.result == DistributedLock::ServerResult::Pending)
                return;
            granted += o.result == DistributedLock::ServerResult::Granted ? 1 : 0;
            latencies << o.latencyMs;
        }
        // A round whose votes were split: some servers granted, too few for a quorum.
        if (granted > 0 && granted < manager->quorum() && latencies != lastSplit) {
            ++splits;
            lastSplit = latencies;
        }
    });
    const double seconds = options.doubleValue(QStringLiteral("seconds"), 5.0);
    const qint64 startAt = options.value(QStringLiteral("start-at")).toLongLong();
    const qint64 delay = std::max<qint64>(0, startAt - QDateTime::currentMSecsSinceEpoch());
    const qint64 endNs = machineNs() + (delay + qint64(seconds * 1000)) * 1000000;
    Waiter finished;
    const auto want = [&] {
        if (machineNs() >= endNs) {
            finished.quit();
            return;
        }
        events.append(QJsonArray { QStringLiteral("w"), double(machineNs()) });
        lock.acquire();
    };
    QObject::connect(&lock, &DistributedLock::acquired, &lock, [&] {
        events.append(QJsonArray { QStringLiteral("g"), double(machineNs()) });
        QTimer::singleShot(holdMs, &lock, [&] {
            events.append(QJsonArray { QStringLiteral("r"), double(machineNs()) });
            lock.release();
        });
    });
    QObject::connect(&lock, &DistributedLock::released, &lock, [&] { QTimer::singleShot(againMs, &lock, want); });
    QObject::connect(&lock, &DistributedLock::acquireFailed, &lock, [&] { QTimer::singleShot(0, &lock, want); });
    QTimer::singleShot(int(delay), &lock, want);
    if (!finished.wait(int(delay + seconds * 1000) + 60000))
        fail(QStringLiteral("fair-handoff child stalled"));
    QJsonObject out;
    out.insert(QStringLiteral("events"), events);
    out.insert(QStringLiteral("splits"), splits);
    emitResult(out);
    return 0;
}

int runFairHandoff(const Options &options)
{
    const int procs = options.intValue(QStringLiteral("procs"), 2);
    const double seconds = options.doubleValue(QStringLiteral("seconds"), 5.0);
    ServerSet servers;
    const QStringList urls = servers.setUp(options, 3);
    const qint64 startAt = QDateTime::currentMSecsSinceEpoch() + 1500;
    QStringList common { QStringLiteral("--urls"), urls.join(u','),
                         QStringLiteral("--resource"),
                         QStringLiteral("lockbench:fair:%1").arg(QCoreApplication::applicationPid()),
                         QStringLiteral("--start-at"), QString::number(startAt),
                         QStringLiteral("--seconds"), QString::number(seconds),
                         QStringLiteral("--hold-ms"), options.value(QStringLiteral("hold-ms"), QStringLiteral("100")),
                         QStringLiteral("--again-ms"), options.value(QStringLiteral("again-ms"), QStringLiteral("50")) };
    if (options.has(QStringLiteral("no-notifications")))
        common << QStringLiteral("--no-notifications");
    // --peer node: the same contenders written with node-redlock (peers/redlock-handoff.js).
    const bool node = options.value(QStringLiteral("peer")) == QLatin1String("node");
    const QString peerScript = options.value(QStringLiteral("peers"), QStringLiteral(LOCKBENCH_PEERS_DIR))
            + QStringLiteral("/redlock-handoff.js");
    std::vector<std::unique_ptr<QProcess>> children;
    for (int i = 0; i < procs; ++i) {
        auto p = std::make_unique<QProcess>();
        p->setProcessChannelMode(QProcess::ForwardedErrorChannel);
        if (node)
            p->start(QStringLiteral("node"), QStringList { peerScript } + common);
        else
            p->start(QCoreApplication::applicationFilePath(), QStringList { QStringLiteral("fair-handoff-child") } + common);
        children.push_back(std::move(p));
    }
    struct Event { qint64 ns; int proc; char kind; };
    std::vector<Event> all;
    int splits = 0; // -1: a contender cannot tell (node-redlock reports no per-server votes)
    for (int i = 0; i < procs; ++i) {
        QProcess &p = *children[size_t(i)];
        if (!p.waitForFinished(int(seconds * 1000) + 90000) || p.exitCode() != 0)
            fail(QStringLiteral("fair-handoff child failed"));
        const QJsonObject r = QJsonDocument::fromJson(p.readAllStandardOutput().trimmed().split('\n').last()).object();
        const int childSplits = r.value(QStringLiteral("splits")).toInt();
        splits = splits < 0 || childSplits < 0 ? -1 : splits + childSplits;
        for (const QJsonValue &v : r.value(QStringLiteral("events")).toArray()) {
            const QJsonArray e = v.toArray();
            all.push_back({ qint64(e.at(1).toDouble()), i, char(e.at(0).toString().at(0).toLatin1()) });
        }
    }
    std::sort(all.begin(), all.end(), [](const Event &a, const Event &b) { return a.ns < b.ns; });
    // Per release: who was waiting then (wanted it and not granted yet), who got it next, when.
    QList<qint64> toGrant;
    int handoffs = 0, withWaiter = 0, toWaiter = 0;
    std::vector<qint64> wantingSince(size_t(procs), -1);
    int releaser = -1;
    qint64 releaseNs = -1;
    std::vector<bool> waitingAtRelease(size_t(procs), false);
    for (const Event &e : all) {
        if (e.kind == 'w') {
            wantingSince[size_t(e.proc)] = e.ns;
        } else if (e.kind == 'r') {
            releaser = e.proc;
            releaseNs = e.ns;
            for (int p = 0; p < procs; ++p)
                waitingAtRelease[size_t(p)] = p != e.proc && wantingSince[size_t(p)] >= 0;
        } else if (e.kind == 'g') {
            wantingSince[size_t(e.proc)] = -1;
            if (releaseNs < 0)
                continue;
            ++handoffs;
            toGrant << e.ns - releaseNs;
            const bool someoneWaited = std::any_of(waitingAtRelease.begin(), waitingAtRelease.end(), [](bool b) { return b; });
            if (someoneWaited) {
                ++withWaiter;
                toWaiter += e.proc != releaser && waitingAtRelease[size_t(e.proc)] ? 1 : 0;
            }
            releaseNs = -1;
        }
    }
    QJsonObject out;
    out.insert(QStringLiteral("mode"), QStringLiteral("fair-handoff"));
    out.insert(QStringLiteral("procs"), procs);
    out.insert(QStringLiteral("peer"), node ? QStringLiteral("node-redlock") : QStringLiteral("qredlock"));
    out.insert(QStringLiteral("notifications"), !node && !options.has(QStringLiteral("no-notifications")));
    out.insert(QStringLiteral("handoffs"), handoffs);
    out.insert(QStringLiteral("release_to_grant"), latencySummary(toGrant));
    out.insert(QStringLiteral("share_to_waiter"), withWaiter ? double(toWaiter) / withWaiter : -1.0);
    out.insert(QStringLiteral("split_rounds_per_handoff"), handoffs && splits >= 0 ? double(splits) / handoffs : -1.0);
    emitResult(out);
    return 0;
}

// ---- wait-load ---------------------------------------------------------------------------

int runWaitLoad(const Options &options)
{
    const int waiters = options.intValue(QStringLiteral("waiters"), 100);
    const double seconds = options.doubleValue(QStringLiteral("seconds"), 5.0);
    ServerSet servers;
    const QStringList urls = servers.setUp(options, 3);
    auto holderManager = pushManager(urls, options);
    auto manager = pushManager(urls, options);
    const QString resource = QStringLiteral("lockbench:waitload:%1").arg(QCoreApplication::applicationPid());
    DistributedLock holder;
    holder.setManager(holderManager.get());
    holder.setResource(resource);
    holder.setTtl(30000);
    holder.setAutoExtend(true);
    holder.acquire();
    if (!spinUntil([&] { return holder.isLocked(); }, 5000))
        fail(QStringLiteral("wait-load: the holder got no lock"));
    std::vector<std::unique_ptr<DistributedLock>> locks;
    for (int i = 0; i < waiters; ++i) {
        auto l = std::make_unique<DistributedLock>();
        l->setManager(manager.get());
        l->setResource(resource);
        l->setTtl(30000);
        l->acquire();
        locks.push_back(std::move(l));
    }
    Waiter phase;
    QTimer::singleShot(1000, [&] { phase.quit(); }); // settle: subscriptions, queue entries
    phase.wait(60000);
    const qint64 c0 = commandCalls(urls);
    QElapsedTimer clock;
    clock.start();
    QTimer::singleShot(int(seconds * 1000), [&] { phase.quit(); });
    phase.wait(int(seconds * 1000) + 60000);
    const qint64 c1 = commandCalls(urls);
    const double wall = double(clock.nsecsElapsed()) / 1e9;
    for (auto &l : locks)
        l->release();
    holder.release();
    QJsonObject out;
    out.insert(QStringLiteral("mode"), QStringLiteral("wait-load"));
    out.insert(QStringLiteral("waiters"), waiters);
    out.insert(QStringLiteral("notifications"), manager->notifications());
    out.insert(QStringLiteral("server_commands_per_s"), double(c1 - c0 - qint64(urls.size())) / wall);
    emitResult(out);
    return 0;
}

// ---- loss --------------------------------------------------------------------------------

int runLoss(const Options &options)
{
    const QString kind = options.value(QStringLiteral("kind"), QStringLiteral("delete"));
    const int repeat = options.intValue(QStringLiteral("repeat"), 5);
    QList<qint64> times;
    for (int run = 0; run < repeat; ++run) {
        QRedlockTest::RedisCluster cluster;
        if (!cluster.start(3))
            fail(cluster.errorString());
        auto manager = pushManager(cluster.urls(), options);
        DistributedLock lock;
        lock.setManager(manager.get());
        lock.setResource(QStringLiteral("lockbench:loss"));
        lock.setTtl(30000);
        lock.setAutoExtend(true);
        lock.acquire();
        if (!spinUntil([&] { return lock.isLocked(); }, 5000))
            fail(QStringLiteral("loss: no lock"));
        spinUntil([] { return false; }, 300); // tracking is on
        qint64 lostNs = -1;
        Waiter w;
        QObject::connect(&lock, &DistributedLock::lost, &lock, [&] {
            lostNs = machineNs();
            w.quit();
        });
        const qint64 t0 = machineNs();
        for (int s = 0; s < cluster.size() / 2 + 1; ++s) {
            if (kind == QLatin1String("restart")) {
                cluster.at(s).kill();
                cluster.at(s).restart();
            } else {
                cluster.at(s).command({ "DEL", "lockbench:loss" });
            }
        }
        w.wait(15000);
        times << (lostNs < 0 ? qint64(15000) * 1000000 : lostNs - t0);
    }
    QJsonObject out;
    out.insert(QStringLiteral("mode"), QStringLiteral("loss"));
    out.insert(QStringLiteral("kind"), kind);
    out.insert(QStringLiteral("notifications"), !options.has(QStringLiteral("no-notifications")));
    out.insert(QStringLiteral("to_lost"), latencySummary(times));
    emitResult(out);
    return 0;
}

} // namespace LockBench
