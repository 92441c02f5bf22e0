// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// lockbench: QRedlock's benchmarks against its own reference figures and its peers.
// `lockbench suite` runs everything (scripts/bench calls it); the other modes measure
// one thing each and print one JSON line. See README.md.
#include "benchutil.h"
#include "modes.h"

#include <QtCore/QCoreApplication>

#include <cstdio>

namespace {

const char Usage[] = R"(usage: lockbench MODE [--option value ...]

modes (each prints one JSON line on stdout):
  suite       everything below plus the references; prints the markdown table
              --json FILE  --scale-seconds 60  --scale-locks 10000  --samples 3000
              --seconds 3  --repeat 5  --peers DIR  --no-node  --no-callgrind
              --dispatchers default,unix  --no-push  --push-seconds 6
  latency     uncontended acquire time, one lock at a time
              --servers N  --samples 5000  --warmup 300  --proxy-delays 1,2,4
              --bare (also a plain QTcpSocket fan-out)  --floor (also blocking sockets)
              --floor-pause-ms P (also the floor of rounds after P ms idle)  --floor-idle-samples 20
  throughput  acquire+release cycles/s  --inflight 64  --seconds 3  --servers 3
  handoff     one resource, several processes  --procs 4  --seconds 5
              --retry-delay 2  --retry-jitter 2  --hold-ms 0
  scale       many held locks with auto-extension  --locks 10000  --seconds 60  --ttl 30000
  cycles      a fixed number of acquire+release cycles (for callgrind)  --cycles 1000
  fair-handoff  N processes, one resource, defaults; each holds --hold-ms 100 and wants it
              again --again-ms 50 after its release: release-to-grant, share of releases to
              a waiter, split-vote rounds per handoff  --procs 2  --seconds 5
              --peer node: node-redlock's contenders instead (peers/redlock-handoff.js)
  wait-load   --waiters 100 wait on one held lock: server commands/s (INFO commandstats)
  loss        --kind delete|restart: a quorum of the holder's keys deleted / a majority of
              servers restarted empty: time to lost()  --repeat 5
              (these three take --no-notifications for the polling figures)
  serve       start --servers N redis-servers, print their URLs, run until stdin closes

common: --urls URL,... uses running servers instead of starting its own;
        --server-timeout MS (default 1000)
)";

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    const QString mode = args.value(1);
    if (mode.isEmpty() || mode == QLatin1String("--help") || mode == QLatin1String("help")) {
        std::fputs(Usage, mode.isEmpty() ? stderr : stdout);
        return mode.isEmpty() ? 2 : 0;
    }
    const LockBench::Options options(args, 2);
    if (mode == QLatin1String("suite"))
        return LockBench::runSuite(options);
    if (mode == QLatin1String("latency"))
        return LockBench::runLatency(options);
    if (mode == QLatin1String("throughput"))
        return LockBench::runThroughput(options);
    if (mode == QLatin1String("handoff"))
        return LockBench::runHandoff(options);
    if (mode == QLatin1String("handoff-child"))
        return LockBench::runHandoffChild(options);
    if (mode == QLatin1String("scale"))
        return LockBench::runScale(options);
    if (mode == QLatin1String("cycles"))
        return LockBench::runCycles(options);
    if (mode == QLatin1String("fair-handoff"))
        return LockBench::runFairHandoff(options);
    if (mode == QLatin1String("fair-handoff-child"))
        return LockBench::runFairHandoffChild(options);
    if (mode == QLatin1String("wait-load"))
        return LockBench::runWaitLoad(options);
    if (mode == QLatin1String("loss"))
        return LockBench::runLoss(options);
    if (mode == QLatin1String("serve"))
        return LockBench::runServe(options);
    LockBench::fail(QStringLiteral("unknown mode '%1' (try --help)").arg(mode));
}
