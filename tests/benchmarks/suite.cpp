// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// `lockbench suite`: every measurement, the references in the same run, one markdown
// table (stdout) and optionally the same figures as JSON (--json FILE). Progress goes to
// stderr. Each measurement runs in a child process (the event dispatcher is chosen when
// a process starts: QT_NO_GLIB=1 selects the plain Unix one).
#include "benchutil.h"
#include "modes.h"
#include "rawredisclient.h"
#include "redisserver.h"
#include "suiteutil.h"
#include "pushsuite.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QDateTime>
#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QProcess>
#include <QtCore/QStandardPaths>
#include <QtCore/QSysInfo>
#include <QtCore/QTemporaryDir>
#include <QtCore/QThread>
#include <QtCore/QTime>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace LockBench {

namespace {

class Suite
{
public:
    explicit Suite(const Options &options) : m_options(options) { }
    int run();

private:
    struct Dispatcher
    {
        QString key;   // "default" / "unix"
        QString label; // column title
        bool noGlib;
    };

    QJsonObject child(const Dispatcher &d, const QStringList &args, int timeoutMs);
    double redisBenchmarkP50(QJsonObject *detail);
    double redisBenchmarkRate(const QStringList &command);
    QJsonObject nodePeer(const QStringList &extra);
    QJsonObject callgrind(const Dispatcher &d);
    QJsonObject measureDispatcher(const Dispatcher &d);
    QStringList urls(int n) const { return m_urls.mid(0, n); }
    QString joined(int n) const { return urls(n).join(u','); }
    void addRow(const QString &figure, const QString &def, const QString &unix, const QString &reference,
                const QString &target, const QString &result);
    QString passText(bool ok) const { return ok ? QStringLiteral("pass") : QStringLiteral("**FAIL**"); }
    void buildTable();

    Options m_options;
    QStringList m_urls;
    QList<Dispatcher> m_dispatchers;
    QJsonObject m_results;
    QJsonArray m_rows;
};

QJsonObject Suite::child(const Dispatcher &d, const QStringList &args, int timeoutMs)
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    if (d.noGlib)
        env.insert(QStringLiteral("QT_NO_GLIB"), QStringLiteral("1"));
    else
        env.remove(QStringLiteral("QT_NO_GLIB"));
    QString error;
    const QByteArray out = runProgram(QCoreApplication::applicationFilePath(), args, env, timeoutMs, &error);
    if (!error.isEmpty())
        return errorObject(error);
    return lastJsonLine(out);
}

// `redis-benchmark -c 1 SET k v NX PX 10000`: one client, one round trip at a time.
double roundTripP50(const QString &url, int requests, QJsonObject *detail)
{
    QString error;
    const QByteArray out = runProgram(
            QStringLiteral("redis-benchmark"),
            { QStringLiteral("-h"), QStringLiteral("127.0.0.1"), QStringLiteral("-p"),
              QString::number(ServerSet::portOf(url)), QStringLiteral("-c"), QStringLiteral("1"),
              QStringLiteral("-n"), QString::number(requests), QStringLiteral("--csv"), QStringLiteral("SET"),
              QStringLiteral("k"), QStringLiteral("v"), QStringLiteral("NX"), QStringLiteral("PX"),
              QStringLiteral("10000") },
            QProcessEnvironment::systemEnvironment(), 120000, &error);
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    const QList<QByteArray> lines = out.trimmed().split('\n');
    const QList<QByteArray> f = lines.last().split(',');
    if (!error.isEmpty() || f.size() < 8) {
        errorObject(error.isEmpty() ? QStringLiteral("redis-benchmark: unexpected output") : error);
        return -1;
    }
    const auto ms = [&](int i) { return QByteArray(f.at(i)).replace('"', "").toDouble() * 1000.0; };
    if (detail) {
        detail->insert(QStringLiteral("p50_us"), ms(4));
        detail->insert(QStringLiteral("p99_us"), ms(6));
        detail->insert(QStringLiteral("min_us"), ms(3));
    }
    return ms(4);
}

double Suite::redisBenchmarkP50(QJsonObject *detail)
{
    return roundTripP50(m_urls.first(), m_options.intValue(QStringLiteral("rb-requests"), 20000),
                                        detail);
}

// `redis-benchmark -P 16`: the server's own limit for a command, in requests/s.
double Suite::redisBenchmarkRate(const QStringList &command)
{
    QString error;
    QStringList args{ QStringLiteral("-h"), QStringLiteral("127.0.0.1"), QStringLiteral("-p"),
                      QString::number(ServerSet::portOf(m_urls.first())), QStringLiteral("-P"), QStringLiteral("16"),
                      QStringLiteral("-n"), QStringLiteral("300000"), QStringLiteral("--csv") };
    const QByteArray out = runProgram(QStringLiteral("redis-benchmark"), args + command,
                                      QProcessEnvironment::systemEnvironment(), 120000, &error);
    const QList<QByteArray> f = out.trimmed().split('\n').last().split(',');
    if (!error.isEmpty() || f.size() < 2) {
        errorObject(error.isEmpty() ? QStringLiteral("redis-benchmark: unexpected output") : error);
        return -1;
    }
    return QByteArray(f.at(1)).replace('"', "").toDouble();
}

QJsonObject Suite::nodePeer(const QStringList &extra)
{
    const QString dir = m_options.value(QStringLiteral("peers"), QStringLiteral(LOCKBENCH_PEERS_DIR));
    const QString script = dir + QStringLiteral("/redlock-bench.js");
    if (!QFile::exists(dir + QStringLiteral("/node_modules/redlock/package.json")))
        return errorObject(QStringLiteral("node-redlock is not installed in %1 (scripts/bench runs npm install)").arg(dir));
    QString error;
    const QByteArray out = runProgram(
            QStringLiteral("node"),
            QStringList{ script, QStringLiteral("--urls"), joined(3), QStringLiteral("--samples"),
              QString::number(m_options.intValue(QStringLiteral("samples"), 3000)), QStringLiteral("--inflight"),
              QStringLiteral("64"), QStringLiteral("--seconds"), m_options.value(QStringLiteral("seconds"), QStringLiteral("3")) }
                    + extra,
            QProcessEnvironment::systemEnvironment(), 300000, &error);
    if (!error.isEmpty())
        return errorObject(error);
    return lastJsonLine(out);
}

// Instructions per acquire+release cycle: Ir of C cycles minus Ir of a run with none.
QJsonObject Suite::callgrind(const Dispatcher &d)
{
    const QString valgrind = QStandardPaths::findExecutable(QStringLiteral("valgrind"));
    if (valgrind.isEmpty())
        return errorObject(QStringLiteral("valgrind not found (Debian package valgrind; scripts/setup installs it)"));
    QTemporaryDir tmp;
    const int cycles = m_options.intValue(QStringLiteral("callgrind-cycles"), 2000);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    if (d.noGlib)
        env.insert(QStringLiteral("QT_NO_GLIB"), QStringLiteral("1"));
    else
        env.remove(QStringLiteral("QT_NO_GLIB"));
    qint64 ir[2] = { -1, -1 };
    const int counts[2] = { 0, cycles };
    for (int i = 0; i < 2; ++i) {
        const QString outFile = tmp.filePath(QStringLiteral("callgrind.%1").arg(i));
        QString error;
        runProgram(valgrind,
                   { QStringLiteral("-q"), QStringLiteral("--tool=callgrind"), QStringLiteral("--callgrind-out-file=") + outFile,
                     QCoreApplication::applicationFilePath(), QStringLiteral("cycles"), QStringLiteral("--urls"),
                     joined(3), QStringLiteral("--cycles"), QString::number(counts[i]),
                     QStringLiteral("--server-timeout"), QStringLiteral("10000") },
                   env, 600000, &error);
        if (!error.isEmpty())
            return errorObject(error);
        QFile f(outFile);
        if (!f.open(QIODevice::ReadOnly))
            return errorObject(QStringLiteral("callgrind wrote no %1").arg(outFile));
        while (!f.atEnd()) {
            const QByteArray line = f.readLine().trimmed();
            if (line.startsWith("summary:") || line.startsWith("totals:"))
                ir[i] = line.mid(line.indexOf(':') + 1).trimmed().split(' ').value(0).toLongLong();
        }
    }
    QJsonObject o;
    o.insert(QStringLiteral("cycles"), cycles);
    o.insert(QStringLiteral("ir_baseline"), double(ir[0]));
    o.insert(QStringLiteral("ir_total"), double(ir[1]));
    o.insert(QStringLiteral("instructions_per_cycle"), cycles > 0 ? double(ir[1] - ir[0]) / cycles : -1.0);
    return o;
}

QJsonObject Suite::measureDispatcher(const Dispatcher &d)
{
    QJsonObject r;
    const QString samples = QString::number(m_options.intValue(QStringLiteral("samples"), 3000));
    const QString seconds = m_options.value(QStringLiteral("seconds"), QStringLiteral("3"));
    const int repeat = std::max(1, m_options.intValue(QStringLiteral("repeat"), 5));

    // Latency, interleaved with its reference so that both see the same machine load.
    QJsonArray runs;
    for (int i = 0; i < repeat; ++i) {
        progress(QStringLiteral("%1: latency N = 1/3/5/7, repeat %2 of %3").arg(d.label).arg(i + 1).arg(repeat));
        QJsonObject run;
        QJsonObject rb;
        redisBenchmarkP50(&rb);
        run.insert(QStringLiteral("redis_benchmark"), rb);
        for (int n : { 3, 1, 5, 7 }) { // N = 3 right after its reference
            QStringList args{ QStringLiteral("latency"), QStringLiteral("--urls"), joined(n),
                              QStringLiteral("--samples"), samples };
            args << QStringLiteral("--bare") << QStringLiteral("--floor") << QStringLiteral("--rtt");
            run.insert(QStringLiteral("n%1").arg(n), child(d, args, 300000));
        }
        runs.append(run);
    }
    r.insert(QStringLiteral("latency_runs"), runs);

    progress(QStringLiteral("%1: latency behind fault proxies (+1/+2/+4 ms one way)").arg(d.label));
    r.insert(QStringLiteral("proxy"), child(d, { QStringLiteral("latency"), QStringLiteral("--urls"), joined(3),
                                               QStringLiteral("--proxy-delays"), QStringLiteral("1,2,4"),
                                               QStringLiteral("--samples"), QStringLiteral("400"),
                                               QStringLiteral("--warmup"), QStringLiteral("40") },
                                         300000));
    const auto throughput = [&](int k) {
        return child(d, { QStringLiteral("throughput"), QStringLiteral("--urls"), joined(3), QStringLiteral("--inflight"),
                          QString::number(k), QStringLiteral("--seconds"), seconds },
                     300000);
    };
    for (int k : { 1, 1024 }) {
        progress(QStringLiteral("%1: throughput, %2 in flight").arg(d.label).arg(k));
        r.insert(QStringLiteral("throughput_%1").arg(k), throughput(k));
    }
    // 64 in flight against node-redlock: pairs run back to back, so that each ratio compares
    // two runs under the same load.
    QJsonArray pairs;
    for (int i = 0; i < (m_options.has(QStringLiteral("no-node")) ? 1 : 2); ++i) {
        progress(QStringLiteral("%1: throughput, 64 in flight, and node-redlock's (pair %2)").arg(d.label).arg(i + 1));
        QJsonObject pair;
        if (!m_options.has(QStringLiteral("no-node")))
            pair.insert(QStringLiteral("node"), nodePeer({ QStringLiteral("--no-latency") }).value(QStringLiteral("throughput")));
        pair.insert(QStringLiteral("qredlock"), throughput(64));
        pairs.append(pair);
    }
    r.insert(QStringLiteral("throughput_64_pairs"), pairs);
    progress(QStringLiteral("%1: handoff, 4 processes").arg(d.label));
    r.insert(QStringLiteral("handoff"), child(d, { QStringLiteral("handoff"), QStringLiteral("--urls"), joined(3),
                                                 QStringLiteral("--seconds"),
                                                 m_options.value(QStringLiteral("handoff-seconds"), QStringLiteral("5")) },
                                           300000));
    const QString scaleSeconds = m_options.value(QStringLiteral("scale-seconds"), QStringLiteral("60"));
    progress(QStringLiteral("%1: %2 locks held for %3 s").arg(d.label, m_options.value(QStringLiteral("scale-locks"), QStringLiteral("10000")), scaleSeconds));
    r.insert(QStringLiteral("scale"), child(d, { QStringLiteral("scale"), QStringLiteral("--urls"), joined(3),
                                               QStringLiteral("--locks"),
                                               m_options.value(QStringLiteral("scale-locks"), QStringLiteral("10000")),
                                               QStringLiteral("--seconds"), scaleSeconds },
                                         int(scaleSeconds.toDouble() * 1000) + 300000));
    if (!m_options.has(QStringLiteral("no-callgrind"))) {
        progress(QStringLiteral("%1: instructions per cycle under callgrind").arg(d.label));
        r.insert(QStringLiteral("callgrind"), callgrind(d));
    }
    return r;
}

void Suite::addRow(const QString &figure, const QString &def, const QString &unix, const QString &reference,
                   const QString &target, const QString &result)
{
    QJsonObject row;
    row.insert(QStringLiteral("figure"), figure);
    row.insert(QStringLiteral("default"), def);
    row.insert(QStringLiteral("unix"), unix);
    row.insert(QStringLiteral("reference"), reference);
    row.insert(QStringLiteral("target"), target);
    row.insert(QStringLiteral("result"), result);
    m_rows.append(row);
}

void Suite::buildTable()
{
    const QJsonObject refs = m_results.value(QStringLiteral("references")).toObject();
    const QJsonObject node = refs.value(QStringLiteral("node_redlock")).toObject();
    QHash<QString, QJsonObject> res;
    for (const Dispatcher &d : std::as_const(m_dispatchers))
        res.insert(d.key, m_results.value(d.key).toObject());
    const auto col = [&](const QString &key, const std::function<QString(const QJsonObject &)> &f) {
        return res.contains(key) ? f(res.value(key)) : QStringLiteral("not run");
    };
    // Latency: medians over the repeats; ratios are taken within a repeat (same load), then
    // their median.
    const auto runsOf = [&](const QString &key) {
        return res.value(key).value(QStringLiteral("latency_runs")).toArray();
    };
    const auto med = [&](const QString &key, const QString &path) {
        QList<double> v;
        const QJsonArray runs = runsOf(key);
        for (const QJsonValue &r : runs)
            v << num(r.toObject(), path);
        return median(v);
    };
    const auto medRatio = [&](const QString &key, const QString &a, const QString &b) {
        QList<double> v;
        const QJsonArray runs = runsOf(key);
        for (const QJsonValue &r : runs) {
            const double x = num(r.toObject(), a), y = num(r.toObject(), b);
            v << (x > 0 && y > 0 ? x / y : -1);
        }
        return median(v);
    };
    const QString rbPath = QStringLiteral("redis_benchmark.p50_us");
    QList<double> allRb;
    for (const Dispatcher &d : std::as_const(m_dispatchers)) {
        const QJsonArray runs = runsOf(d.key);
        for (const QJsonValue &r : runs)
            allRb << num(r.toObject(), rbPath);
    }
    const double rbAll = median(allRb);
    const auto p50 = [](int n, const char *what) {
        return QStringLiteral("n%1.%2.p50_us").arg(n).arg(QLatin1String(what));
    };
    const auto latCell = [&](const QString &key, const QString &path, const QString &versus) -> QString {
        if (!res.contains(key))
            return QStringLiteral("not run");
        return fmtUs(med(key, path)) + QStringLiteral(" = ") + fmtRatio(medRatio(key, path, versus));
    };
    bool p50ok = true;
    for (const Dispatcher &d : std::as_const(m_dispatchers)) {
        const double r = medRatio(d.key, p50(3, "acquire"), rbPath);
        p50ok = p50ok && r > 0 && r <= (d.noGlib ? 1.6 : 2.0);
    }
    const QString def = QStringLiteral("default"), unix = QStringLiteral("unix");
    addRow(QStringLiteral("acquire p50, N = 3"), latCell(def, p50(3, "acquire"), rbPath),
           latCell(unix, p50(3, "acquire"), rbPath),
           QStringLiteral("`redis-benchmark -c 1 SET k v NX PX 10000` p50 %1 (one round trip; it reports in 8 µs steps)")
                   .arg(fmtUs(rbAll)),
           QStringLiteral("≤ 2.0× default, ≤ 1.6× QT_NO_GLIB"), passText(p50ok));
    QList<double> rtt1;
    for (const Dispatcher &d : std::as_const(m_dispatchers))
        rtt1 << med(d.key, p50(3, "rtt"));
    addRow(QStringLiteral("acquire p50, N = 3, over one round trip taken between its own cycles"),
           latCell(def, p50(3, "acquire"), p50(3, "rtt")), latCell(unix, p50(3, "acquire"), p50(3, "rtt")),
           QStringLiteral("`SET NX PX` to one server over a blocking socket, between the cycles (a warm server): p50 %1")
                   .arg(fmtUs(median(rtt1))),
           QString(), QString());
    addRow(QStringLiteral("quorum floor p50, N = 3: blocking sockets + poll(), no event loop"),
           latCell(def, p50(3, "floor"), rbPath), latCell(unix, p50(3, "floor"), rbPath),
           QStringLiteral("the best any client gets here (× redis-benchmark)"), QString(), QString());
    addRow(QStringLiteral("bare QTcpSocket fan-out p50, N = 3: Qt event loop, no lock logic"),
           latCell(def, p50(3, "bare"), rbPath), latCell(unix, p50(3, "bare"), rbPath),
           QStringLiteral("what Qt's event loop alone costs (× redis-benchmark)"), QString(), QString());
    const auto overFloor = [&](const QString &key) -> QString {
        return res.contains(key) ? fmtRatio(medRatio(key, p50(3, "acquire"), p50(3, "floor"))) + QStringLiteral(" floor, ")
                        + fmtRatio(medRatio(key, p50(3, "acquire"), p50(3, "bare"))) + QStringLiteral(" bare")
                                 : QStringLiteral("not run");
    };
    addRow(QStringLiteral("acquire p50, N = 3, over the floor and over the bare Qt fan-out"), overFloor(def),
           overFloor(unix), QStringLiteral("the library's own share of the latency"), QString(), QString());
    const auto p99Cell = [&](const QString &key) -> QString {
        return res.contains(key) ? fmtUs(med(key, QStringLiteral("n3.acquire.p99_us"))) : QStringLiteral("not run");
    };
    addRow(QStringLiteral("acquire p99, N = 3"), p99Cell(def), p99Cell(unix), QString(), QString(), QString());
    const double nodeP50 = num(node, QStringLiteral("acquire.p50_us"));
    addRow(QStringLiteral("node-redlock acquire p50, N = 3"), QString(), QString(),
           nodeP50 > 0 ? fmtUs(nodeP50) + QStringLiteral(" = ") + fmtRatio(rbAll > 0 ? nodeP50 / rbAll : -1)
                       : QStringLiteral("not run"),
           QString(), QString());
    const auto scaling = [&](const QString &key) -> QString {
        if (!res.contains(key))
            return QStringLiteral("not run");
        return QStringLiteral("%1 / %2 / %3 / %4")
                .arg(fmtUs(med(key, p50(1, "acquire"))), fmtUs(med(key, p50(3, "acquire"))),
                     fmtUs(med(key, p50(5, "acquire"))), fmtUs(med(key, p50(7, "acquire"))));
    };
    addRow(QStringLiteral("acquire p50, N = 1 / 3 / 5 / 7"), scaling(def), scaling(unix), QString(), QString(),
           QString());
    bool scaleOk = true;
    QList<double> floorScale;
    for (const Dispatcher &d : std::as_const(m_dispatchers)) {
        const double r = medRatio(d.key, p50(7, "acquire"), p50(1, "acquire"));
        scaleOk = scaleOk && r > 0 && r <= 1.5;
        floorScale << medRatio(d.key, p50(7, "floor"), p50(1, "floor"));
    }
    const auto scaleCell = [&](const QString &key) -> QString {
        return res.contains(key) ? fmtRatio(medRatio(key, p50(7, "acquire"), p50(1, "acquire")))
                                 : QStringLiteral("not run");
    };
    addRow(QStringLiteral("acquire p50, N = 7 vs N = 1"), scaleCell(def), scaleCell(unix),
           QStringLiteral("the floor's N = 7 vs N = 1: %1").arg(fmtRatio(median(floorScale))),
           QStringLiteral("≤ 1.5×"), passText(scaleOk));

    // Behind the fault proxies: against the second-fastest server's own round trip.
    bool proxyOk = true;
    QString proxyRef;
    const auto proxyCell = [&](const QString &key) -> QString {
        if (!res.contains(key))
            return QStringLiteral("not run");
        const QJsonObject p = res.value(key).value(QStringLiteral("proxy")).toObject();
        QList<double> rtts;
        const QJsonArray a = p.value(QStringLiteral("server_rtt")).toArray();
        for (const QJsonValue &v : a)
            rtts << v.toObject().value(QStringLiteral("p50_us")).toDouble();
        std::sort(rtts.begin(), rtts.end());
        const double second = rtts.size() >= 2 ? rtts.at(1) : -1;
        const double acq = num(p, QStringLiteral("acquire.p50_us"));
        const double ratio = second > 0 && acq > 0 ? acq / second : -1;
        proxyOk = proxyOk && ratio > 0 && ratio <= 1.1;
        proxyRef += (proxyRef.isEmpty() ? QString() : QStringLiteral(" / ")) + fmtUs(second);
        const double bare = num(p, QStringLiteral("bare.p50_us"));
        return fmtUs(acq) + QStringLiteral(" = ") + fmtRatio(ratio) + QStringLiteral(" (bare fan-out through the same proxies: ")
                + fmtRatio(bare > 0 && second > 0 ? bare / second : -1) + QLatin1Char(')');
    };
    const QString pd = proxyCell(QStringLiteral("default"));
    const QString pu = proxyCell(QStringLiteral("unix"));
    addRow(QStringLiteral("acquire p50, N = 3 behind FaultProxy +1/+2/+4 ms one way"), pd, pu,
           QStringLiteral("second-fastest server round trip %1").arg(proxyRef), QStringLiteral("≤ 1.1×"),
           passText(proxyOk));

    for (int k : { 1, 1024 }) {
        const auto cell = [&](const QString &d) -> QString {
            return res.contains(d) ? fmtRate(num(res.value(d), QStringLiteral("throughput_%1.cycles_per_s").arg(k)))
                                   : QStringLiteral("not run");
        };
        addRow(QStringLiteral("acquire+release cycles/s, %1 in flight, N = 3").arg(k == 1 ? QStringLiteral("1") : QStringLiteral("1,024")),
               cell(QStringLiteral("default")), cell(QStringLiteral("unix")), QString(), QString(), QString());
    }
    // 64 in flight: the medians of the back-to-back pairs, and of their ratios. Client CPU per
    // cycle is the client's own efficiency, whatever the servers (on the same cores) allow.
    const auto perCycle = [](const QJsonObject &o, const QString &field) {
        const double rate = num(o, QStringLiteral("cycles_per_s"));
        const double cpu = num(o, field);
        return rate > 0 && cpu > 0 ? cpu / 100.0 * 1e6 / rate : -1.0;
    };
    const auto cpuPerCycle = [&](const QJsonObject &o) { return perCycle(o, QStringLiteral("cpu_percent")); };
    const auto serverPerCycle = [&](const QJsonObject &o) { return perCycle(o, QStringLiteral("server_cpu_percent")); };
    struct Pairs { double rate = -1, node = -1, ratio = -1, cpu = -1, nodeCpu = -1, cpuRatio = -1, server = -1, nodeServer = -1; };
    const auto pairsOf = [&](const QString &key) {
        QList<double> rate, nodeRate, ratio, cpu, nodeCpu, cpuRatio, server, nodeServer;
        const QJsonArray a = res.value(key).value(QStringLiteral("throughput_64_pairs")).toArray();
        for (const QJsonValue &v : a) {
            const QJsonObject q = v.toObject().value(QStringLiteral("qredlock")).toObject();
            const QJsonObject n = v.toObject().value(QStringLiteral("node")).toObject();
            const double r = num(q, QStringLiteral("cycles_per_s")), nr = num(n, QStringLiteral("cycles_per_s"));
            const double c = cpuPerCycle(q), nc = cpuPerCycle(n);
            rate << r; nodeRate << nr; cpu << c; nodeCpu << nc;
            server << serverPerCycle(q); nodeServer << serverPerCycle(n);
            ratio << (r > 0 && nr > 0 ? r / nr : -1);
            cpuRatio << (c > 0 && nc > 0 ? nc / c : -1);
        }
        return Pairs{ median(rate), median(nodeRate), median(ratio), median(cpu), median(nodeCpu), median(cpuRatio),
                      median(server), median(nodeServer) };
    };
    bool tpOk = true;
    bool compared = true;
    QStringList nodeRates, nodeCpus;
    const auto tpCell = [&](const QString &key) -> QString {
        if (!res.contains(key))
            return QStringLiteral("not run");
        const Pairs p = pairsOf(key);
        tpOk = tpOk && p.ratio >= 5.0;
        compared = compared && p.node > 0;
        nodeRates << fmtRate(p.node);
        nodeCpus << fmtUs(p.nodeCpu);
        return fmtRate(p.rate) + QStringLiteral(" = ") + fmtRatio(p.ratio) + QStringLiteral(" node");
    };
    const QString tpDefault = tpCell(QStringLiteral("default"));
    const QString tpUnix = tpCell(QStringLiteral("unix"));
    addRow(QStringLiteral("acquire+release cycles/s, 64 in flight, N = 3"), tpDefault, tpUnix,
           QStringLiteral("node-redlock %1 (run next to each)").arg(nodeRates.join(QStringLiteral(" / "))),
           QStringLiteral("≥ 5× node-redlock"), compared ? passText(tpOk) : QStringLiteral("no node-redlock figure"));
    const auto cpuCell = [&](const QString &key) -> QString {
        if (!res.contains(key))
            return QStringLiteral("not run");
        const Pairs p = pairsOf(key);
        return fmtUs(p.cpu) + QStringLiteral(" = 1/") + QString::number(p.cpuRatio, 'f', 1) + QStringLiteral(" of node");
    };
    addRow(QStringLiteral("client CPU per cycle, 64 in flight, N = 3"), cpuCell(QStringLiteral("default")),
           cpuCell(QStringLiteral("unix")), QStringLiteral("node-redlock %1").arg(nodeCpus.join(QStringLiteral(" / "))),
           QString(), QString());
    QStringList nodeServers;
    const auto serverCell = [&](const QString &key) -> QString {
        if (!res.contains(key))
            return QStringLiteral("not run");
        const Pairs p = pairsOf(key);
        nodeServers << fmtUs(p.nodeServer);
        return fmtUs(p.server);
    };
    const QString sDefault = serverCell(QStringLiteral("default"));
    const QString sUnix = serverCell(QStringLiteral("unix"));
    addRow(QStringLiteral("servers' CPU per cycle (3 servers, INFO cpu), 64 in flight"), sDefault, sUnix,
           QStringLiteral("node-redlock %1; the servers share the client's 2 cores").arg(nodeServers.join(QStringLiteral(" / "))),
           QString(), QString());
    const auto handoff = [&](const QString &key) -> QString {
        return col(key, [](const QJsonObject &o) -> QString {
            return QStringLiteral("%1 holdings, p99 wait %2")
                    .arg(fmtRate(num(o, QStringLiteral("handoff.holdings_per_s"))),
                         fmtUs(num(o, QStringLiteral("handoff.wait.p99_us"))));
        });
    };
    addRow(QStringLiteral("handoff: 1 resource, 4 processes (retry 2 ± 2 ms)"), handoff(QStringLiteral("default")),
           handoff(QStringLiteral("unix")), QString(), QString(), QString());

    bool rssOk = true, cpuOk = true;
    const auto scale = [&](const QString &key, const QString &field) {
        return col(key, [&](const QJsonObject &o) -> QString {
            const double v = num(o, QStringLiteral("scale.") + field);
            if (field == QLatin1String("rss_per_lock_bytes")) {
                rssOk = rssOk && v > 0 && v <= 4096;
                return QString::number(v / 1024.0, 'f', 2) + QStringLiteral(" KiB");
            }
            if (field == QLatin1String("cpu_percent")) {
                cpuOk = cpuOk && v >= 0 && v <= 5.0;
                return QString::number(v, 'f', 2) + QStringLiteral(" %");
            }
            return fmtRate(v);
        });
    };
    const QString locks = m_options.value(QStringLiteral("scale-locks"), QStringLiteral("10000"));
    const QString held = QStringLiteral("%1 held locks, TTL 30 s, auto-extend, %2 s")
                                 .arg(locks, m_options.value(QStringLiteral("scale-seconds"), QStringLiteral("60")));
    QString a = scale(QStringLiteral("default"), QStringLiteral("rss_per_lock_bytes"));
    QString b = scale(QStringLiteral("unix"), QStringLiteral("rss_per_lock_bytes"));
    addRow(held + QStringLiteral(": RSS per lock"), a, b, QString(), QStringLiteral("≤ 4 KiB"), passText(rssOk));
    a = scale(QStringLiteral("default"), QStringLiteral("cpu_percent"));
    b = scale(QStringLiteral("unix"), QStringLiteral("cpu_percent"));
    addRow(held + QStringLiteral(": CPU of one core"), a, b, QString(), QStringLiteral("≤ 5 %"), passText(cpuOk));
    addRow(held + QStringLiteral(": extension rounds/s"), scale(QStringLiteral("default"), QStringLiteral("extensions_per_s")),
           scale(QStringLiteral("unix"), QStringLiteral("extensions_per_s")), QString(), QString(), QString());
    const auto ir = [&](const QString &key) -> QString {
        return col(key, [](const QJsonObject &o) -> QString {
            const double v = num(o, QStringLiteral("callgrind.instructions_per_cycle"));
            return v > 0 ? QString::number(v / 1000.0, 'f', 1) + QStringLiteral("k") : QStringLiteral("n/a");
        });
    };
    addRow(QStringLiteral("instructions per acquire+release cycle (callgrind, N = 3)"), ir(QStringLiteral("default")),
           ir(QStringLiteral("unix")), QString(), QString(), QString());
    addRow(QStringLiteral("server limit: `redis-benchmark -P 16` SET / EVALSHA"), QString(), QString(),
           QStringLiteral("%1 / %2").arg(fmtRate(num(refs, QStringLiteral("set_p16_rps"))),
                                         fmtRate(num(refs, QStringLiteral("evalsha_p16_rps")))),
           QString(), QString());
}

int Suite::run()
{
    QElapsedTimer total;
    total.start();
    const QStringList which = m_options.value(QStringLiteral("dispatchers"), QStringLiteral("default,unix")).split(u',');
    if (which.contains(QStringLiteral("default")))
        m_dispatchers << Dispatcher{ QStringLiteral("default"), QStringLiteral("default dispatcher"), false };
    if (which.contains(QStringLiteral("unix")))
        m_dispatchers << Dispatcher{ QStringLiteral("unix"), QStringLiteral("QT_NO_GLIB=1"), true };

    ServerSet servers;
    progress(QStringLiteral("starting 7 redis-servers"));
    m_urls = servers.setUp(m_options, 7);

    QJsonObject machine;
    machine.insert(QStringLiteral("nproc"), QThread::idealThreadCount());
    QFile cpuinfo(QStringLiteral("/proc/cpuinfo"));
    if (cpuinfo.open(QIODevice::ReadOnly)) {
        const QList<QByteArray> lines = cpuinfo.readAll().split('\n');
        for (const QByteArray &l : lines) {
            if (l.startsWith("model name")) {
                machine.insert(QStringLiteral("cpu"), QString::fromUtf8(l.mid(l.indexOf(':') + 1).trimmed()));
                break;
            }
        }
    }
    machine.insert(QStringLiteral("kernel"), QSysInfo::kernelVersion());
    machine.insert(QStringLiteral("qt"), QString::fromLatin1(qVersion()));
    double load[3] = { 0, 0, 0 };
    if (getloadavg(load, 3) == 3)
        machine.insert(QStringLiteral("loadavg_at_start"), load[0]);
    m_results.insert(QStringLiteral("machine"), machine);
    m_results.insert(QStringLiteral("date"), QDateTime::currentDateTimeUtc().toString(Qt::ISODate));

    QJsonObject refs;
    progress(QStringLiteral("references: redis-benchmark"));
    QJsonObject rb;
    redisBenchmarkP50(&rb);
    refs.insert(QStringLiteral("redis_benchmark_c1"), rb);
    refs.insert(QStringLiteral("set_p16_rps"), redisBenchmarkRate({ QStringLiteral("-t"), QStringLiteral("set") }));
    // The release script's shape: compare-and-DEL.
    const QVariant sha = [&] {
        QRedlockTest::RawRedisClient c;
        c.connectToHost(QStringLiteral("127.0.0.1"), ServerSet::portOf(m_urls.first()));
        return c.command({ "SCRIPT", "LOAD",
                           "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0" });
    }();
    refs.insert(QStringLiteral("evalsha_p16_rps"),
                redisBenchmarkRate({ QStringLiteral("EVALSHA"), QString::fromLatin1(sha.toByteArray()),
                                     QStringLiteral("1"), QStringLiteral("lockbench:evalsha"), QStringLiteral("v") }));
    if (!m_options.has(QStringLiteral("no-node"))) {
        progress(QStringLiteral("references: node-redlock (latency, then 64 in flight)"));
        refs.insert(QStringLiteral("node_redlock"), nodePeer({ QStringLiteral("--no-throughput") }));
    }
    m_results.insert(QStringLiteral("references"), refs);

    for (const Dispatcher &d : std::as_const(m_dispatchers))
        m_results.insert(d.key, measureDispatcher(d));
    if (!m_options.has(QStringLiteral("no-push")) && !m_dispatchers.isEmpty()) {
        const Dispatcher d = m_dispatchers.first();
        m_results.insert(QStringLiteral("push"), measurePush(m_options, urls(3), [&](const QStringList &args, int timeoutMs) {
                             return child(d, args, timeoutMs);
                         }));
    }

    buildTable();
    m_results.insert(QStringLiteral("table"), m_rows);
    m_results.insert(QStringLiteral("suite_seconds"), double(total.elapsed()) / 1000.0);

    QString md = QStringLiteral("| figure | default dispatcher (glib) | QT_NO_GLIB=1 | reference, same run | target | result |\n"
                                "| --- | --- | --- | --- | --- | --- |\n");
    for (const QJsonValue &v : std::as_const(m_rows)) {
        const QJsonObject r = v.toObject();
        md += QStringLiteral("| %1 | %2 | %3 | %4 | %5 | %6 |\n")
                      .arg(r.value(QStringLiteral("figure")).toString(), r.value(QStringLiteral("default")).toString(),
                           r.value(QStringLiteral("unix")).toString(), r.value(QStringLiteral("reference")).toString(),
                           r.value(QStringLiteral("target")).toString(), r.value(QStringLiteral("result")).toString());
    }
    if (m_results.contains(QStringLiteral("push")))
        md += u'\n' + pushTable(m_results.value(QStringLiteral("push")).toObject());
    md += QStringLiteral("\nMachine: %1 × %2, Linux %3, Qt %4; load average at start %5; suite took %6 s.\n")
                  .arg(machine.value(QStringLiteral("nproc")).toInt())
                  .arg(machine.value(QStringLiteral("cpu")).toString(), machine.value(QStringLiteral("kernel")).toString(),
                       machine.value(QStringLiteral("qt")).toString())
                  .arg(load[0], 0, 'f', 2)
                  .arg(double(total.elapsed()) / 1000.0, 0, 'f', 0);
    m_results.insert(QStringLiteral("markdown"), md);
    const QByteArray text = md.toUtf8();
    std::fwrite(text.constData(), 1, size_t(text.size()), stdout);
    std::fflush(stdout);

    const QString jsonFile = m_options.value(QStringLiteral("json"));
    if (!jsonFile.isEmpty()) {
        QFile f(jsonFile);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
            fail(QStringLiteral("cannot write %1: %2").arg(jsonFile, f.errorString()));
        f.write(QJsonDocument(m_results).toJson(QJsonDocument::Indented));
        progress(QStringLiteral("wrote ") + jsonFile);
    }
    return 0;
}

} // namespace

int runSuite(const Options &options)
{
    Suite suite(options);
    return suite.run();
}

} // namespace LockBench
