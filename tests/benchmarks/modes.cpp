// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The measurements of lockbench. Each mode prints one JSON object (see README.md).
// Only the public QRedlock API is used; BareFanout and the fault proxies are references.
#include "modes.h"

#include "benchutil.h"
#include "faultproxy.h"
#include "rawredisclient.h"

#include <QRedlock/DistributedLock>
#include <QRedlock/LockManager>

#include <QtCore/QCoreApplication>
#include <QtCore/QDateTime>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QProcess>
#include <QtCore/QThread>
#include <QtCore/QTimer>

#include <memory>
#include <vector>

using QRedlock::DistributedLock;
using QRedlock::LockManager;

namespace LockBench {

namespace {

QString uniqueKey(const char *what)
{
    return QStringLiteral("lockbench:%1:%2").arg(QLatin1String(what)).arg(QCoreApplication::applicationPid());
}

// A manager whose connections are up (every server answered the handshake).
std::unique_ptr<LockManager> readyManager(const QStringList &urls, const Options &options)
{
    auto m = std::make_unique<LockManager>();
    if (!m->setServers(urls))
        fail(QStringLiteral("setServers: %1").arg(m->errorString()));
    m->setServerTimeout(options.intValue(QStringLiteral("server-timeout"), 1000));
    m->setRetryCount(0);
    m->setNotifications(!options.has(QStringLiteral("no-notifications")));
    const bool up = spinUntil([&] {
        const QVariantList status = m->serverStatus();
        for (const QVariant &s : status) {
            if (!s.toMap().value(QStringLiteral("connected")).toBool())
                return false;
        }
        return true;
    }, 10000);
    if (!up)
        fail(QStringLiteral("servers not reachable: %1").arg(urls.join(u',')));
    return m;
}

// One lock taken and released over and over, one cycle at a time; the acquire time
// (tryAcquire() to acquired()) of each measured cycle is recorded.
class SequentialCycles
{
public:
    SequentialCycles(LockManager *manager, const QString &resource)
    {
        m_lock.setManager(manager);
        m_lock.setResource(resource);
        m_lock.setTtl(10000);
        QObject::connect(&m_lock, &DistributedLock::acquired, &m_lock, [this] {
            if (m_record)
                m_samples.append(m_clock.nsecsElapsed() - m_t0);
            m_lock.release();
        });
        QObject::connect(&m_lock, &DistributedLock::released, &m_lock, [this] { next(); });
        QObject::connect(&m_lock, &DistributedLock::acquireFailed, &m_lock, [this] {
            ++m_failures;
            next();
        });
    }

    // Takes one blocking round trip to `rtt` between cycles (an interleaved reference).
    void interleave(BlockingRoundTrip *rtt) { m_rtt = rtt; }

    // Runs `count` cycles; records their acquire times if `record`.
    void run(int count, bool record)
    {
        m_left = count;
        m_record = record;
        m_clock.start();
        if (count <= 0)
            return;
        QTimer::singleShot(0, &m_lock, [this] { start(); });
        if (!m_waiter.wait(60000 + count * 50))
            fail(QStringLiteral("lock cycles stalled (%1 left, %2 failed): %3")
                         .arg(m_left).arg(m_failures).arg(m_lock.errorString()));
    }

    const QList<qint64> &samples() const { return m_samples; }
    const QList<qint64> &rttSamples() const { return m_rttSamples; }
    int failures() const { return m_failures; }

private:
    void start()
    {
        m_t0 = m_clock.nsecsElapsed();
        m_lock.tryAcquire();
    }
    void next()
    {
        if (m_failures > 100)
            fail(QStringLiteral("too many failed acquisitions: %1").arg(m_lock.errorString()));
        if (--m_left <= 0) {
            m_waiter.quit();
            return;
        }
        if (m_rtt) {
            const qint64 ns = m_rtt->measureNs();
            if (m_record)
                m_rttSamples.append(ns);
        }
        // Through the event loop, as an application would start its next piece of work.
        QTimer::singleShot(0, &m_lock, [this] { start(); });
    }

    DistributedLock m_lock;
    QElapsedTimer m_clock;
    qint64 m_t0 = 0;
    int m_left = 0;
    int m_failures = 0;
    bool m_record = false;
    QList<qint64> m_samples;
    BlockingRoundTrip *m_rtt = nullptr;
    QList<qint64> m_rttSamples;
    Waiter m_waiter;
};

// One fault proxy in a thread of its own, so that neither the client's event loop nor the
// other proxies' traffic delays its timers.
class ProxyThread
{
public:
    QString start(const QString &url, int delayMs)
    {
        m_thread.start();
        m_context = new QObject;
        m_context->moveToThread(&m_thread);
        QString out, error;
        QMetaObject::invokeMethod(m_context, [&] {
            auto *p = new QRedlockTest::FaultProxy(m_context);
            if (!p->start(ServerSet::portOf(url))) {
                error = p->errorString();
                return;
            }
            p->setDelay(QRedlockTest::FaultProxy::Direction::ClientToServer, delayMs);
            out = p->url();
        }, Qt::BlockingQueuedConnection);
        if (!error.isEmpty())
            fail(QStringLiteral("fault proxy: %1").arg(error));
        return out;
    }
    ~ProxyThread()
    {
        if (m_context) {
            QObject *context = m_context;
            QMetaObject::invokeMethod(context, [context] { delete context; }, Qt::BlockingQueuedConnection);
        }
        m_thread.quit();
        m_thread.wait();
    }

private:
    QThread m_thread;
    QObject *m_context = nullptr;
};

// CPU seconds (user + system) the servers have used so far, from INFO cpu.
double serversCpuSeconds(const QStringList &urls)
{
    double total = 0;
    for (const QString &u : urls) {
        QRedlockTest::RawRedisClient c;
        if (!c.connectToHost(QStringLiteral("127.0.0.1"), ServerSet::portOf(u)))
            return -1;
        const QList<QByteArray> lines = c.command({ "INFO", "cpu" }).toByteArray().split('\n');
        for (const QByteArray &l : lines) {
            if (l.startsWith("used_cpu_sys:") || l.startsWith("used_cpu_user:"))
                total += l.mid(l.indexOf(':') + 1).trimmed().toDouble();
        }
    }
    return total;
}

QList<int> toInts(const QStringList &list)
{
    QList<int> out;
    for (const QString &s : list)
        out << s.toInt();
    return out;
}

} // namespace

// ---- latency ---------------------------------------------------------------------------

int runLatency(const Options &options)
{
    const int samples = options.intValue(QStringLiteral("samples"), 5000);
    const int warmup = options.intValue(QStringLiteral("warmup"), 300);
    const QList<int> delays = toInts(options.list(QStringLiteral("proxy-delays")));
    ServerSet servers;
    QStringList urls = servers.setUp(options, delays.isEmpty() ? 3 : int(delays.size()));
    const QString firstServer = urls.first(); // the server itself, even behind a proxy
    std::vector<std::unique_ptr<ProxyThread>> proxies;
    for (int i = 0; i < delays.size(); ++i) {
        proxies.push_back(std::make_unique<ProxyThread>());
        urls[i] = proxies.back()->start(urls.at(i), delays.at(i));
    }

    QJsonObject out;
    out.insert(QStringLiteral("mode"), QStringLiteral("latency"));
    out.insert(QStringLiteral("servers"), int(urls.size()));
    {
        auto manager = readyManager(urls, options);
        SequentialCycles cycles(manager.get(), uniqueKey("latency"));
        std::unique_ptr<BlockingRoundTrip> rtt;
        if (options.has(QStringLiteral("rtt"))) // to the first server, never through a proxy
            rtt = std::make_unique<BlockingRoundTrip>(firstServer);
        cycles.interleave(rtt.get());
        cycles.run(warmup, false);
        cycles.run(samples, true);
        out.insert(QStringLiteral("acquire"), latencySummary(cycles.samples()));
        if (rtt)
            out.insert(QStringLiteral("rtt"), latencySummary(cycles.rttSamples()));
        out.insert(QStringLiteral("failures"), cycles.failures());
    }
    if (options.has(QStringLiteral("bare")) || !delays.isEmpty()) {
        // The same fan-out with plain QTcpSockets: what the event loop alone costs.
        BareFanout bare(urls);
        if (!bare.connectAll(5000))
            fail(QStringLiteral("bare fan-out: cannot connect"));
        bare.measure(warmup, 1, "lockbench:bare:warm");
        out.insert(QStringLiteral("bare"), latencySummary(bare.measure(samples, int(urls.size()) / 2 + 1,
                                                                      uniqueKey("bare").toUtf8())));
    }
    if (options.has(QStringLiteral("floor"))) {
        blockingFanout(urls, warmup, 1, "lockbench:floor:warm");
        out.insert(QStringLiteral("floor"), latencySummary(blockingFanout(urls, samples, int(urls.size()) / 2 + 1,
                                                                         uniqueKey("floor").toUtf8())));
        // --floor-pause-ms P: also the floor of rounds that each follow P ms of idleness.
        const int pause = options.intValue(QStringLiteral("floor-pause-ms"), 0);
        if (pause > 0)
            out.insert(QStringLiteral("floor_idle"),
                       latencySummary(blockingFanout(urls, options.intValue(QStringLiteral("floor-idle-samples"), 20),
                                                     int(urls.size()) / 2 + 1, uniqueKey("floor-idle").toUtf8(), pause)));
    }
    if (!delays.isEmpty()) {
        // Round trip of one SET NX PX to each server alone, through its proxy.
        QJsonArray rtts;
        for (const QString &u : std::as_const(urls)) {
            BareFanout one({ u });
            if (!one.connectAll(5000))
                fail(QStringLiteral("round trip: cannot connect to %1").arg(u));
            rtts.append(latencySummary(one.measure(std::max(50, samples / 2), 1, uniqueKey("rtt").toUtf8())));
        }
        QJsonArray d;
        for (int v : delays)
            d.append(v);
        out.insert(QStringLiteral("proxy_delays_ms"), d);
        out.insert(QStringLiteral("server_rtt"), rtts);
    }
    emitResult(out);
    return 0;
}

// ---- client cost (run under callgrind) ------------------------------------------------

int runCycles(const Options &options)
{
    ServerSet servers;
    const QStringList urls = servers.setUp(options, 3);
    auto manager = readyManager(urls, options);
    SequentialCycles cycles(manager.get(), uniqueKey("cycles"));
    cycles.run(options.intValue(QStringLiteral("warmup"), 50), false);
    const int count = options.intValue(QStringLiteral("cycles"), 1000);
    cycles.run(count, false);
    QJsonObject out;
    out.insert(QStringLiteral("mode"), QStringLiteral("cycles"));
    out.insert(QStringLiteral("cycles"), count);
    out.insert(QStringLiteral("failures"), cycles.failures());
    emitResult(out);
    return 0;
}

// ---- throughput ------------------------------------------------------------------------

int runThroughput(const Options &options)
{
    const int inflight = options.intValue(QStringLiteral("inflight"), 64);
    const double seconds = options.doubleValue(QStringLiteral("seconds"), 3.0);
    const double warmSeconds = options.doubleValue(QStringLiteral("warmup-seconds"), 0.5);
    ServerSet servers;
    const QStringList urls = servers.setUp(options, 3);
    auto manager = readyManager(urls, options);

    std::vector<std::unique_ptr<DistributedLock>> locks;
    qint64 cycles = 0;
    int failures = 0;
    int busy = 0;
    bool stopping = false;
    Waiter drained;
    const QString base = uniqueKey("throughput");
    for (int i = 0; i < inflight; ++i) {
        auto lock = std::make_unique<DistributedLock>();
        DistributedLock *l = lock.get();
        l->setManager(manager.get());
        l->setResource(base + u':' + QString::number(i));
        l->setTtl(10000);
        QObject::connect(l, &DistributedLock::acquired, l, [l] { l->release(); });
        const auto again = [&, l] {
            if (stopping) {
                if (--busy == 0)
                    drained.quit();
                return;
            }
            l->tryAcquire();
        };
        QObject::connect(l, &DistributedLock::released, l, [&, again] {
            ++cycles;
            again();
        });
        QObject::connect(l, &DistributedLock::acquireFailed, l, [&, l, again] {
            if (++failures > 1000)
                fail(QStringLiteral("throughput: too many failures: %1").arg(l->errorString()));
            again();
        });
        locks.push_back(std::move(lock));
    }
    QElapsedTimer clock;
    for (auto &l : locks) {
        ++busy;
        l->tryAcquire();
    }
    clock.start();
    Waiter phase;
    QTimer::singleShot(int(warmSeconds * 1000), [&] { phase.quit(); });
    phase.wait(int(warmSeconds * 1000) + 60000);
    const qint64 c0 = cycles;
    const qint64 t0 = clock.nsecsElapsed();
    const double cpu0 = cpuSeconds();
    const double server0 = serversCpuSeconds(urls);
    QTimer::singleShot(int(seconds * 1000), [&] { phase.quit(); });
    phase.wait(int(seconds * 1000) + 60000);
    const qint64 c1 = cycles;
    const qint64 t1 = clock.nsecsElapsed();
    const double cpu1 = cpuSeconds();
    const double server1 = serversCpuSeconds(urls);
    stopping = true;
    if (!drained.wait(30000))
        fail(QStringLiteral("throughput: %1 locks did not finish their cycle").arg(busy));

    const double wall = double(t1 - t0) / 1e9;
    QJsonObject out;
    out.insert(QStringLiteral("mode"), QStringLiteral("throughput"));
    out.insert(QStringLiteral("inflight"), inflight);
    out.insert(QStringLiteral("servers"), int(urls.size()));
    out.insert(QStringLiteral("cycles_per_s"), double(c1 - c0) / wall);
    out.insert(QStringLiteral("cpu_percent"), 100.0 * (cpu1 - cpu0) / wall);
    out.insert(QStringLiteral("server_cpu_percent"), server0 < 0 ? -1.0 : 100.0 * (server1 - server0) / wall);
    out.insert(QStringLiteral("failures"), failures);
    emitResult(out);
    return 0;
}

// ---- handoff ---------------------------------------------------------------------------

int runHandoffChild(const Options &options)
{
    const QStringList urls = options.list(QStringLiteral("urls"));
    auto manager = readyManager(urls, options);
    manager->setRetryCount(-1);
    manager->setRetryDelay(options.intValue(QStringLiteral("retry-delay"), 2));
    manager->setRetryJitter(options.intValue(QStringLiteral("retry-jitter"), 2));
    const int holdMs = options.intValue(QStringLiteral("hold-ms"), 0);

    DistributedLock lock;
    lock.setManager(manager.get());
    lock.setResource(options.value(QStringLiteral("resource")));
    lock.setTtl(10000);
    lock.setAcquireTimeout(10000);
    QElapsedTimer clock;
    qint64 t0 = 0;
    qint64 endNs = 0;
    QList<qint64> waits;
    int failures = 0;
    Waiter finished;
    const auto start = [&] {
        if (clock.nsecsElapsed() >= endNs) {
            finished.quit();
            return;
        }
        t0 = clock.nsecsElapsed();
        lock.acquire();
    };
    QObject::connect(&lock, &DistributedLock::acquired, &lock, [&] {
        waits.append(clock.nsecsElapsed() - t0);
        if (holdMs > 0)
            QTimer::singleShot(holdMs, &lock, [&] { lock.release(); });
        else
            lock.release();
    });
    QObject::connect(&lock, &DistributedLock::released, &lock, [&] { QTimer::singleShot(0, &lock, start); });
    QObject::connect(&lock, &DistributedLock::acquireFailed, &lock, [&] {
        ++failures;
        QTimer::singleShot(0, &lock, start);
    });

    // All children start together at the wall-clock instant the parent chose.
    const qint64 startAt = options.value(QStringLiteral("start-at")).toLongLong();
    const qint64 delay = std::max<qint64>(0, startAt - QDateTime::currentMSecsSinceEpoch());
    const double seconds = options.doubleValue(QStringLiteral("seconds"), 5.0);
    clock.start();
    endNs = (delay + qint64(seconds * 1000)) * 1000000;
    QTimer::singleShot(int(delay), &lock, start);
    if (!finished.wait(int(delay + seconds * 1000) + 30000))
        fail(QStringLiteral("handoff child stalled"));

    QJsonArray w;
    for (qint64 ns : std::as_const(waits))
        w.append(double(ns) / 1000.0);
    QJsonObject out;
    out.insert(QStringLiteral("holdings"), int(waits.size()));
    out.insert(QStringLiteral("failures"), failures);
    out.insert(QStringLiteral("waits_us"), w);
    emitResult(out);
    return 0;
}

int runHandoff(const Options &options)
{
    const int procs = options.intValue(QStringLiteral("procs"), 4);
    const double seconds = options.doubleValue(QStringLiteral("seconds"), 5.0);
    ServerSet servers;
    const QStringList urls = servers.setUp(options, 3);
    const qint64 startAt = QDateTime::currentMSecsSinceEpoch() + 1500; // time for the children to connect
    std::vector<std::unique_ptr<QProcess>> children;
    for (int i = 0; i < procs; ++i) {
        auto p = std::make_unique<QProcess>();
        p->setProcessChannelMode(QProcess::ForwardedErrorChannel);
        p->start(QCoreApplication::applicationFilePath(),
                 { QStringLiteral("handoff-child"), QStringLiteral("--urls"), urls.join(u','),
                   QStringLiteral("--resource"), uniqueKey("handoff"),
                   QStringLiteral("--start-at"), QString::number(startAt),
                   QStringLiteral("--seconds"), QString::number(seconds),
                   QStringLiteral("--retry-delay"), options.value(QStringLiteral("retry-delay"), QStringLiteral("2")),
                   QStringLiteral("--retry-jitter"), options.value(QStringLiteral("retry-jitter"), QStringLiteral("2")),
                   QStringLiteral("--hold-ms"), options.value(QStringLiteral("hold-ms"), QStringLiteral("0")) });
        children.push_back(std::move(p));
    }
    QList<qint64> waits;
    int holdings = 0;
    int failures = 0;
    QJsonArray perProcess;
    for (auto &p : children) {
        if (!p->waitForFinished(int(seconds * 1000) + 60000) || p->exitCode() != 0)
            fail(QStringLiteral("handoff child failed (exit code %1)").arg(p->exitCode()));
        const QList<QByteArray> lines = p->readAllStandardOutput().trimmed().split('\n');
        const QJsonObject r = QJsonDocument::fromJson(lines.last()).object();
        holdings += r.value(QStringLiteral("holdings")).toInt();
        failures += r.value(QStringLiteral("failures")).toInt();
        perProcess.append(r.value(QStringLiteral("holdings")).toInt());
        const QJsonArray w = r.value(QStringLiteral("waits_us")).toArray();
        for (const QJsonValue &v : w)
            waits.append(qint64(v.toDouble() * 1000.0));
    }
    QJsonObject out;
    out.insert(QStringLiteral("mode"), QStringLiteral("handoff"));
    out.insert(QStringLiteral("procs"), procs);
    out.insert(QStringLiteral("holdings_per_s"), double(holdings) / seconds);
    out.insert(QStringLiteral("holdings_per_process"), perProcess);
    out.insert(QStringLiteral("wait"), latencySummary(waits));
    out.insert(QStringLiteral("failures"), failures);
    out.insert(QStringLiteral("retry_delay_ms"), options.intValue(QStringLiteral("retry-delay"), 2));
    out.insert(QStringLiteral("retry_jitter_ms"), options.intValue(QStringLiteral("retry-jitter"), 2));
    emitResult(out);
    return 0;
}

// ---- scale -----------------------------------------------------------------------------

int runScale(const Options &options)
{
    const int count = options.intValue(QStringLiteral("locks"), 10000);
    const double seconds = options.doubleValue(QStringLiteral("seconds"), 60.0);
    const int ttl = options.intValue(QStringLiteral("ttl"), 30000);
    const int window = options.intValue(QStringLiteral("inflight"), 512);
    ServerSet servers;
    const QStringList urls = servers.setUp(options, 3);
    auto manager = readyManager(urls, options);
    manager->setRetryCount(3);
    {
        SequentialCycles warm(manager.get(), uniqueKey("scale-warm"));
        warm.run(200, false);
    }
    const qint64 rss0 = rssKiB();

    std::vector<std::unique_ptr<DistributedLock>> locks;
    locks.reserve(size_t(count));
    int held = 0, next = 0, failures = 0, extended = 0, lost = 0, expired = 0, released = 0;
    Waiter allHeld, allReleased;
    const QString base = uniqueKey("scale");
    const auto startNext = [&] {
        if (next < count)
            locks[size_t(next++)]->acquire();
    };
    for (int i = 0; i < count; ++i) {
        auto lock = std::make_unique<DistributedLock>();
        DistributedLock *l = lock.get();
        l->setManager(manager.get());
        l->setResource(base + u':' + QString::number(i));
        l->setTtl(ttl);
        l->setAutoExtend(true);
        QObject::connect(l, &DistributedLock::acquired, l, [&] {
            if (++held == count)
                allHeld.quit();
            startNext();
        });
        QObject::connect(l, &DistributedLock::acquireFailed, l, [&, l] {
            if (++failures > 100)
                fail(QStringLiteral("scale: too many failed acquisitions: %1").arg(l->errorString()));
            l->acquire();
        });
        QObject::connect(l, &DistributedLock::extended, l, [&] { ++extended; });
        QObject::connect(l, &DistributedLock::lost, l, [&] { ++lost; });
        QObject::connect(l, &DistributedLock::expired, l, [&] { ++expired; });
        QObject::connect(l, &DistributedLock::released, l, [&] {
            if (++released == count)
                allReleased.quit();
        });
        locks.push_back(std::move(lock));
    }
    QElapsedTimer clock;
    clock.start();
    for (int i = 0; i < window; ++i)
        startNext();
    if (!allHeld.wait(120000))
        fail(QStringLiteral("scale: only %1 of %2 locks acquired").arg(held).arg(count));
    const double acquireSeconds = double(clock.nsecsElapsed()) / 1e9;
    const qint64 rssHeld = rssKiB();

    const double cpu0 = cpuSeconds();
    const qint64 t0 = clock.nsecsElapsed();
    Waiter hold;
    QTimer::singleShot(int(seconds * 1000), [&] { hold.quit(); });
    hold.wait(int(seconds * 1000) + 60000);
    const double wall = double(clock.nsecsElapsed() - t0) / 1e9;
    const double cpu = cpuSeconds() - cpu0;
    const qint64 rss1 = rssKiB();
    const int stillHeld = int(std::count_if(locks.cbegin(), locks.cend(),
                                            [](const auto &l) { return l->isLocked(); }));
    for (auto &l : locks)
        l->release();
    if (released < stillHeld)
        allReleased.wait(60000);

    QJsonObject out;
    out.insert(QStringLiteral("mode"), QStringLiteral("scale"));
    out.insert(QStringLiteral("locks"), count);
    out.insert(QStringLiteral("ttl_ms"), ttl);
    out.insert(QStringLiteral("seconds"), wall);
    out.insert(QStringLiteral("acquire_all_seconds"), acquireSeconds);
    out.insert(QStringLiteral("rss_before_kib"), rss0);
    out.insert(QStringLiteral("rss_held_kib"), rssHeld);
    out.insert(QStringLiteral("rss_end_kib"), rss1);
    out.insert(QStringLiteral("rss_per_lock_bytes"), double(std::max(rssHeld, rss1) - rss0) * 1024.0 / count);
    out.insert(QStringLiteral("cpu_percent"), 100.0 * cpu / wall);
    out.insert(QStringLiteral("extensions_per_s"), double(extended) / wall);
    out.insert(QStringLiteral("still_held"), stillHeld);
    out.insert(QStringLiteral("lost"), lost);
    out.insert(QStringLiteral("expired"), expired);
    out.insert(QStringLiteral("acquire_failures"), failures);
    emitResult(out);
    return 0;
}

// ---- serve -----------------------------------------------------------------------------

int runServe(const Options &options)
{
    ServerSet servers;
    const QStringList urls = servers.setUp(options, 7);
    QJsonObject out;
    out.insert(QStringLiteral("urls"), QJsonArray::fromStringList(urls));
    emitResult(out);
    // Until the parent closes our stdin (or dies: the servers die with us).
    char buffer[256];
    while (std::fread(buffer, 1, sizeof buffer, stdin) > 0) {
    }
    return 0;
}

} // namespace LockBench
