// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// `lockbench suite`'s push-coordination table (see pushsuite.h). Every figure comes from the
// lockbench modes of pushmodes.cpp, run here one after the other against the same servers:
// push (the default), polling (--no-notifications) and, for the handoff, node-redlock's own
// contenders (--peer node). The handoff's reference is the quorum floor measured right before.
#include "pushsuite.h"

#include "benchutil.h"
#include "suiteutil.h"

#include <QtCore/QJsonArray>

namespace LockBench {

namespace {

constexpr int ChildTimeoutMs = 300000;

QString percent(double share)
{
    return share >= 0 ? QString::number(share * 100.0, 'f', 0) + QStringLiteral(" %") : QStringLiteral("n/a");
}

QString passText(bool ok)
{
    return ok ? QStringLiteral("pass") : QStringLiteral("**FAIL**");
}

} // namespace

QJsonObject measurePush(const Options &options, const QStringList &urls, const ChildRunner &runChild)
{
    const bool withNode = !options.has(QStringLiteral("no-node"));
    const QString seconds = options.value(QStringLiteral("push-seconds"), QStringLiteral("6"));
    const QString joined = urls.join(u',');
    QStringList nodeArgs { QStringLiteral("--peer"), QStringLiteral("node") };
    if (options.has(QStringLiteral("peers")))
        nodeArgs << QStringLiteral("--peers") << options.value(QStringLiteral("peers"));
    QJsonObject r;

    progress(QStringLiteral("push: the quorum floor (blocking sockets), the handoff's reference"));
    r.insert(QStringLiteral("floor"),
             runChild({ QStringLiteral("latency"), QStringLiteral("--urls"), joined, QStringLiteral("--samples"),
                        QStringLiteral("1000"), QStringLiteral("--warmup"), QStringLiteral("100"), QStringLiteral("--floor"),
                        QStringLiteral("--floor-pause-ms"), QStringLiteral("300") },
                      ChildTimeoutMs));
    for (int procs : { 2, 16 }) {
        // The shape: each contender holds 300 ms and wants the lock again 50 ms after
        // its release; everything else at its defaults.
        const QStringList args { QStringLiteral("fair-handoff"), QStringLiteral("--urls"), joined,
                                 QStringLiteral("--procs"), QString::number(procs), QStringLiteral("--seconds"), seconds,
                                 QStringLiteral("--hold-ms"), QStringLiteral("300"), QStringLiteral("--again-ms"),
                                 QStringLiteral("50") };
        QJsonObject h;
        progress(QStringLiteral("push: fair handoff, %1 contenders: push, polling%2")
                         .arg(procs)
                         .arg(withNode ? QStringLiteral(", node-redlock") : QString()));
        h.insert(QStringLiteral("push"), runChild(args, ChildTimeoutMs));
        h.insert(QStringLiteral("polling"), runChild(args + QStringList { QStringLiteral("--no-notifications") }, ChildTimeoutMs));
        if (withNode)
            h.insert(QStringLiteral("node"), runChild(args + nodeArgs, ChildTimeoutMs));
        r.insert(QStringLiteral("handoff_%1").arg(procs), h);
    }

    progress(QStringLiteral("push: the servers' load while 100 waiters wait, push and polling"));
    const QStringList load { QStringLiteral("wait-load"), QStringLiteral("--urls"), joined, QStringLiteral("--seconds"),
                             QStringLiteral("5") };
    QJsonObject w;
    w.insert(QStringLiteral("push"), runChild(load, ChildTimeoutMs));
    w.insert(QStringLiteral("polling"), runChild(load + QStringList { QStringLiteral("--no-notifications") }, ChildTimeoutMs));
    r.insert(QStringLiteral("wait_load"), w);

    for (const QString &kind : { QStringLiteral("delete"), QStringLiteral("restart") }) {
        progress(QStringLiteral("push: time to lost() after a quorum's keys were %1, push and polling")
                         .arg(kind == QLatin1String("delete") ? QStringLiteral("deleted") : QStringLiteral("lost with a restart")));
        QJsonObject l;
        l.insert(QStringLiteral("push"), runChild({ QStringLiteral("loss"), QStringLiteral("--kind"), kind,
                                                    QStringLiteral("--repeat"), QStringLiteral("5") },
                                                  ChildTimeoutMs));
        // Polling learns at the next extension (a third of the 30 s TTL): fewer repeats.
        l.insert(QStringLiteral("polling"), runChild({ QStringLiteral("loss"), QStringLiteral("--kind"), kind,
                                                       QStringLiteral("--repeat"), QStringLiteral("2"),
                                                       QStringLiteral("--no-notifications") },
                                                     ChildTimeoutMs));
        r.insert(QStringLiteral("loss_%1").arg(kind), l);
    }
    return r;
}

QString pushTable(const QJsonObject &push)
{
    QString md = QStringLiteral(
            "| push coordination (default dispatcher) | push | polling (`notifications: false`) | node-redlock 5 | target | result |\n"
            "| --- | --- | --- | --- | --- | --- |\n");
    const auto row = [&](const QString &figure, const QString &p, const QString &poll, const QString &node,
                         const QString &target, const QString &result) {
        md += QStringLiteral("| %1 | %2 | %3 | %4 | %5 | %6 |\n").arg(figure, p, poll, node, target, result);
    };
    // The floor as the other tables take it (rounds back to back), and the same rounds each
    // after 300 ms of idleness: the state the machine is in when a hold of 300 ms ends. The
    // target is judged on the first.
    const double floorUs = num(push, QStringLiteral("floor.floor.p50_us"));
    const double idleFloorUs = num(push, QStringLiteral("floor.floor_idle.p50_us"));
    for (int procs : { 2, 16 }) {
        const QJsonObject h = push.value(QStringLiteral("handoff_%1").arg(procs)).toObject();
        const auto of = [&](const char *who, const QString &path) { return num(h.value(QLatin1String(who)).toObject(), path); };
        const QString p50 = QStringLiteral("release_to_grant.p50_us"), p99 = QStringLiteral("release_to_grant.p99_us");
        const QString share = QStringLiteral("share_to_waiter"), splits = QStringLiteral("split_rounds_per_handoff");
        const QString what = QStringLiteral("handoff, %1 contenders (hold 300 ms, again 50 ms after the release)").arg(procs);
        const double pushP50 = of("push", p50), nodeP50 = of("node", p50);
        const bool hasNode = nodeP50 > 0;
        const bool p50ok = pushP50 > 0 && floorUs > 0 && pushP50 <= 10 * floorUs && (!hasNode || pushP50 <= nodeP50 / 20);
        row(what + QStringLiteral(": release to grant, p50"),
            fmtUs(pushP50) + QStringLiteral(" = ") + fmtRatio(floorUs > 0 ? pushP50 / floorUs : -1) + QStringLiteral(" floor"),
            fmtUs(of("polling", p50)),
            hasNode ? fmtUs(nodeP50) + QStringLiteral(" (push: 1/%1)").arg(nodeP50 / pushP50, 0, 'f', 0) : QStringLiteral("not run"),
            QStringLiteral("≤ 10× the quorum floor (%1; after 300 ms idle, as a handoff comes: %2 = %3), ≤ 1/20 of node-redlock")
                    .arg(fmtUs(floorUs), fmtUs(idleFloorUs), fmtRatio(idleFloorUs > 0 ? pushP50 / idleFloorUs : -1)),
            passText(p50ok));
        const double pushP99 = of("push", p99);
        row(what + QStringLiteral(": release to grant, p99"), fmtUs(pushP99), fmtUs(of("polling", p99)),
            hasNode ? fmtUs(of("node", p99)) : QStringLiteral("not run"),
            procs == 2 ? QStringLiteral("≤ 20 ms") : QString(),
            procs == 2 ? passText(pushP99 > 0 && pushP99 <= 20000) : QString());
        const double pushShare = of("push", share);
        row(what + QStringLiteral(": releases that went to a waiter"), percent(pushShare), percent(of("polling", share)),
            hasNode ? percent(of("node", share)) : QStringLiteral("not run"), QStringLiteral("≥ 90 %"),
            passText(pushShare >= 0.9));
        row(what + QStringLiteral(": split-vote rounds per handoff"), QString::number(of("push", splits), 'f', 3),
            QString::number(of("polling", splits), 'f', 3), QStringLiteral("n/a (no per-server votes)"), QString(), QString());
    }
    const QJsonObject w = push.value(QStringLiteral("wait_load")).toObject();
    const double loadPush = num(w, QStringLiteral("push.server_commands_per_s"));
    const double loadPoll = num(w, QStringLiteral("polling.server_commands_per_s"));
    row(QStringLiteral("servers' commands/s while 100 waiters wait on one held lock (INFO commandstats, 3 servers)"),
        // Pushed waiters may send nothing at all in the window (their safety net is 20 s).
        (loadPush == 0 ? QStringLiteral("0/s = 0×") : fmtRate(loadPush) + QStringLiteral(" = ") + fmtRatio(loadPoll > 0 ? loadPush / loadPoll : -1))
                + QStringLiteral(" polling"),
        fmtRate(loadPoll), QString(), QStringLiteral("≤ 1/10 of polling"),
        passText(loadPush >= 0 && loadPoll > 0 && loadPush <= loadPoll / 10));
    const auto loss = [&](const QString &kind, const QString &figure, double limitMs) {
        const QJsonObject l = push.value(QStringLiteral("loss_%1").arg(kind)).toObject();
        const double worst = num(l, QStringLiteral("push.to_lost.max_us"));
        row(figure, QStringLiteral("p50 %1, worst %2").arg(fmtUs(num(l, QStringLiteral("push.to_lost.p50_us"))), fmtUs(worst)),
            QStringLiteral("p50 %1").arg(fmtUs(num(l, QStringLiteral("polling.to_lost.p50_us")))), QString(),
            QStringLiteral("≤ %1").arg(fmtUs(limitMs * 1000)), passText(worst > 0 && worst <= limitMs * 1000));
    };
    loss(QStringLiteral("delete"), QStringLiteral("another client deletes the keys on 2 of 3 servers: to `lost()` (TTL 30 s)"), 100);
    loss(QStringLiteral("restart"), QStringLiteral("2 of 3 servers restarted empty: to `lost()` (TTL 30 s)"), 2000);
    return md;
}

} // namespace LockBench
