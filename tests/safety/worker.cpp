// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// qredlock_safety_worker: one contender of a safety run.
//
// Loops: acquire the resource -> note the grant time and the validity deadline the library
// reports -> read-modify-write a shared counter file (read, sleep a few ms, write +1) while
// the lock is held and the hold time has not run out -> stop at the earlier of release and
// lost()/expired() -> release. One TSV record per holding goes to --log; the runner follows
// "G"/"E" lines on stdout to know who holds the lock at any moment.
//
// Every time is CLOCK_MONOTONIC in nanoseconds, which all processes of the machine share,
// so the checker can compare the logs of different workers. Only the public API is used.
//
// Discipline (what the library's documentation asks of a user): before every touch of the
// counter the worker checks that the lock is still Locked and that the validity deadline it
// was told has not passed. A touch after the deadline is recorded and reported as a violation.
//
// Stalls: a heartbeat timer ticks every few milliseconds. When a tick comes much later than
// due although the thread used (almost) no CPU meanwhile, the process was not running — the
// OS did not schedule it, or it was SIGSTOPped — and the window goes to --log's ".stalls"
// file. The checker does not blame the library for a signal that could not be delivered
// because the whole process stood still; a loop kept busy (CPU used) is no excuse.
//
// Refusals: an acquisition that fails for good (acquireFailed with unlimited retries: a
// configuration the library refuses) and a server list setServers() refuses go to --log's
// ".refusals" file (time, source, error, errorString); the worker then tries again after a
// retry delay (or, when the list was refused, idles until its run time is over). The scenario
// alias expects them from the workers it gives one server under two names; from any other
// worker they are a failure.
//
// Pauses: the runner stops a holder with SIGTSTP, not SIGSTOP. The worker's handler stops the
// process with SIGSTOP at once, except between its last validity check and the end of its
// pwrite (a few microseconds): a stop there is deferred to the end of the write. A pause in
// that window is Redlock's known limit (the client decided to write while valid and writes
// after it expired; only fencing tokens protect against it); the suite tests the library,
// not that limit, which tests/safety/README.md describes.

#include <QRedlock/DistributedLock>
#include <QRedlock/LockManager>

#include "clocks.h"
#include "jobworker.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QMetaEnum>
#include <QRandomGenerator>
#include <QTimer>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

using QRedlock::DistributedLock;
using QRedlock::LockManager;
using namespace QRedlockSafety;

namespace {

// A gap between ticks longer than StallNs is a stall if the thread spent less than a quarter
// of it on the CPU. StallNs stays at or below the checker's lateness tolerance, so that any
// signal the process was too starved to deliver in time shows up as a stall.
constexpr int HeartbeatMs = 3;
constexpr qint64 StallNs = 5 * NsPerMs;

// SIGTSTP from the runner: stop now, or at the end of the check-then-write window. Any thread
// may run the handler; exactly one of it and the window's end sends the deferred SIGSTOP.
std::atomic<bool> g_inWriteWindow { false };
std::atomic<bool> g_stopPending { false };
// SIGUSR1 from the runner (negative control neg-pause-in-write): stop inside the next window,
// after the validity check and before the write, to show what that limit does.
std::atomic<bool> g_stopInWindow { false };
static_assert(std::atomic<bool>::is_always_lock_free, "used from a signal handler");

void onStopRequest(int)
{
    const int savedErrno = errno;
    if (!g_inWriteWindow.load()) {
        ::kill(::getpid(), SIGSTOP);
    } else {
        g_stopPending.store(true);
        if (!g_inWriteWindow.load() && g_stopPending.exchange(false))
            ::kill(::getpid(), SIGSTOP);
    }
    errno = savedErrno;
}

void onStopInWindowRequest(int)
{
    g_stopInWindow.store(true);
}

// Marks the window from the last validity check to the end of the write.
class WriteWindow
{
public:
    WriteWindow() { g_inWriteWindow.store(true); }
    ~WriteWindow()
    {
        g_inWriteWindow.store(false);
        if (g_stopPending.exchange(false))
            ::kill(::getpid(), SIGSTOP);
    }
    WriteWindow(const WriteWindow &) = delete;
    WriteWindow &operator=(const WriteWindow &) = delete;
};

[[noreturn]] void die(const char *what)
{
    std::fprintf(stderr, "qredlock_safety_worker: %s: %s\n", what, std::strerror(errno));
    std::exit(2);
}

using Config = WorkerConfig;

// One holding, as written to the log.
struct Holding
{
    int index = 0;
    qint64 want = 0;          // acquire() called
    qint64 grant = 0;         // acquired() delivered
    qint64 deadline = 0;      // the last validity deadline the library reported
    qint64 end = 0;           // the worker stopped touching the counter
    const char *reason = "";  // released | lost | expired
    qint64 signal = 0;        // lost()/expired() delivered (0: none)
    qint64 release = 0;       // release() called (0: none)
    qint64 lastWrite = 0;     // the last counter write (0: none)
    qint64 stale = 0;         // the worker's own check first found the deadline passed (0: never)
    int increments = 0;
    int extensions = 0;
    qint64 wallOffset = 0;    // CLOCK_REALTIME - CLOCK_MONOTONIC at the grant
};

class Worker : public QObject
{
public:
    explicit Worker(const Config &config)
        : m_config(config), m_random(seededGenerator(config.seed, quint32(config.id)))
    {
        m_counterFd = ::open(config.counterPath.toLocal8Bit().constData(), O_RDWR);
        if (m_counterFd < 0)
            die("cannot open the counter file");
        m_logFd = ::open(config.logPath.toLocal8Bit().constData(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        m_stallFd = ::open((config.logPath + QStringLiteral(".stalls")).toLocal8Bit().constData(),
                           O_WRONLY | O_CREAT | O_APPEND, 0644);
        m_refusalFd = ::open((config.logPath + QStringLiteral(".refusals")).toLocal8Bit().constData(),
                             O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (m_logFd < 0 || m_stallFd < 0 || m_refusalFd < 0)
            die("cannot open the log file");
        m_heartbeat.setTimerType(Qt::PreciseTimer);
        m_heartbeat.setInterval(HeartbeatMs);
        connect(&m_heartbeat, &QTimer::timeout, this, &Worker::heartbeat);

        m_manager.setRetryCount(-1);
        m_manager.setRetryDelay(config.retryDelay);
        m_manager.setRetryJitter(config.retryJitter);
        m_manager.setServerTimeout(config.serverTimeout);
        m_manager.setDriftFactor(config.driftFactor);
        if (!m_manager.setServers(config.servers)) {
            // Refused as written (e.g. the same host and port twice): recorded like a refused
            // acquisition; the worker then idles.
            m_listRefused = true;
            recordRefusal("setServers", "InvalidArgument", m_manager.errorString());
        }
        m_lock.setManager(&m_manager);
        m_lock.setResource(config.resource);
        m_lock.setTtl(config.ttl);
        m_lock.setAutoExtend(config.autoExtend);
        m_manager.setNotifications(config.notifications);

        connect(&m_lock, &DistributedLock::acquired, this, &Worker::onAcquired);
        connect(&m_lock, &DistributedLock::acquireFailed, this, &Worker::onAcquireFailed);
        connect(&m_lock, &DistributedLock::extended, this, &Worker::onExtended);
        connect(&m_lock, &DistributedLock::lost, this, [this] { onEnded("lost"); });
        connect(&m_lock, &DistributedLock::expired, this, [this] { onEnded("expired"); });
        connect(&m_lock, &DistributedLock::released, this, &Worker::onReleased);
    }

    void start()
    {
        heartbeat();
        m_heartbeat.start();
        // The hard stop: whatever happens, the worker ends 10 s after its run time.
        QTimer::singleShot(int(m_config.seconds * 1000) + 10000, this, [] {
            std::fprintf(stderr, "qredlock_safety_worker: still running 10 s after the end, giving up\n");
            std::exit(3);
        });
        // Precise: a coarse timer may fire 5 % early, and the runner judges liveness until then.
        QTimer::singleShot(int(m_config.seconds * 1000), Qt::PreciseTimer, this, [this] { stopWanting(); });
        want();
    }

private:
    int randomIn(int lo, int hi) { return hi <= lo ? lo : lo + int(m_random.bounded(hi - lo + 1)); }

    void emitLine(const char *format, ...) __attribute__((format(printf, 2, 3)))
    {
        va_list args;
        va_start(args, format);
        std::vfprintf(stdout, format, args);
        va_end(args);
        std::fflush(stdout);
    }

    void heartbeat()
    {
        const qint64 now = monotonicNs();
        const qint64 cpu = clockNs(CLOCK_THREAD_CPUTIME_ID);
        if (m_lastTick && now - m_lastTick > StallNs && 4 * (cpu - m_lastTickCpu) < now - m_lastTick) {
            char line[96];
            const int n = std::snprintf(line, sizeof line, "%lld\t%lld\t%lld\n", m_lastTick, now, cpu - m_lastTickCpu);
            if (n <= 0 || ::write(m_stallFd, line, size_t(n)) != n)
                die("cannot write the stall log");
        }
        m_lastTick = now;
        m_lastTickCpu = cpu;
    }

    void want()
    {
        if (m_stopping) {
            finish();
            return;
        }
        if (m_listRefused)
            return; // nothing to acquire with; stopWanting() finishes
        m_current = Holding();
        m_current.index = ++m_holdings;
        m_current.want = monotonicNs();
        m_lock.acquire();
    }

    void onAcquireFailed()
    {
        // Only configuration errors and cancellation end acquire() with unlimited retries.
        if (m_stopping) {
            finish();
            return;
        }
        const int error = int(m_lock.error());
        const char *name = QMetaEnum::fromType<DistributedLock::Error>().valueToKey(error);
        recordRefusal("acquire", name ? name : "?", m_lock.errorString());
        QTimer::singleShot(m_config.retryDelay, this, [this] {
            if (!m_stopping)
                m_lock.acquire();
        });
    }

    // Diagnostics (worker-N.err): what each server said in the round that granted a holding,
    // so that an overlap can be traced to the servers that voted for each side.
    void logOutcomes(const char *what)
    {
        QStringList parts;
        const auto outcomes = m_lock.serverOutcomes();
        for (const DistributedLock::ServerOutcome &o : outcomes) {
            using R = DistributedLock::ServerOutcome::Result;
            const char *name = "?";
            switch (o.result) {
            case R::Pending: name = "pending"; break;
            case R::Granted: name = "granted"; break;
            case R::Refused: name = "refused"; break;
            case R::Timeout: name = "timeout"; break;
            case R::Error: name = "error"; break;
            case R::Repaired: name = "repaired"; break;
            }
            parts << o.server + u'=' + QLatin1String(name);
        }
        std::fprintf(stderr, "worker %d holding %d %s at %lld: %s\n", m_config.id, m_current.index, what,
                     qint64(monotonicNs()), qPrintable(parts.join(u' ')));
    }

    void recordRefusal(const char *source, const char *error, QString message)
    {
        std::fprintf(stderr, "worker %d: %s refused: %s: %s\n", m_config.id, source, error, qPrintable(message));
        message.replace(u'\t', u' ').replace(u'\n', u' ');
        const QByteArray line = QByteArray::number(monotonicNs()) + '\t' + source + '\t' + error + '\t'
                + message.toUtf8() + '\n';
        if (::write(m_refusalFd, line.constData(), size_t(line.size())) != line.size())
            die("cannot write the refusals");
    }

    void onAcquired()
    {
        const qint64 now = monotonicNs();
        m_current.grant = now;
        m_current.deadline = now + qint64(m_lock.remainingValidity()) * NsPerMs;
        m_current.wallOffset = clockNs(CLOCK_REALTIME) - now;
        m_held = true;
        m_holdUntil = now + qint64(randomIn(m_config.holdMinMs, m_config.holdMaxMs)) * NsPerMs;
        emitLine("G %d %lld %lld %lld\n", m_current.index, qint64(now),
                 qint64(m_current.deadline), qint64(m_current.wallOffset));
        logOutcomes("granted");
        readModifyWrite();
    }

    void onExtended()
    {
        if (!m_held)
            return;
        m_current.deadline = monotonicNs() + qint64(m_lock.remainingValidity()) * NsPerMs;
        ++m_current.extensions;
    }

    // May the worker touch the counter now? Records the first time the answer is "no
    // because the deadline passed" (the lock may not have said so yet).
    bool stillValid()
    {
        if (!m_held || !m_lock.isLocked())
            return false;
        const qint64 now = monotonicNs();
        if (now < m_current.deadline && m_lock.remainingValidity() > 0) {
            m_checkedAt = now;
            return true;
        }
        if (!m_current.stale)
            m_current.stale = monotonicNs();
        return false;
    }

    void readModifyWrite()
    {
        if (!stillValid())
            return; // lost()/expired() will end the holding
        char buffer[32] = {};
        if (::pread(m_counterFd, buffer, sizeof buffer - 1, 0) < 0)
            die("cannot read the counter");
        const long long value = std::strtoll(buffer, nullptr, 10);
        const int index = m_current.index;
        QTimer::singleShot(randomIn(1, m_config.rmwMaxMs), Qt::PreciseTimer, this, [this, index, value] {
            if (!m_held || m_current.index != index)
                return; // the holding ended while we slept: the increment is abandoned
            char out[32];
            const int n = std::snprintf(out, sizeof out, "%020lld\n", value + 1);
            {
                const WriteWindow window; // the runner's pause waits for the write (see the top)
                if (!stillValid())
                    return;
                // Noted when the validity was just confirmed: the write follows within
                // microseconds (a real pause right here is Redlock's known limit: fencing tokens).
                m_current.lastWrite = m_checkedAt;
                if (g_stopInWindow.exchange(false))
                    ::kill(::getpid(), SIGSTOP); // the negative control: valid at the check, stale at the write
                if (::pwrite(m_counterFd, out, size_t(n), 0) != n)
                    die("cannot write the counter");
            }
            ++m_current.increments;
            if (m_stopping || m_current.lastWrite >= m_holdUntil) {
                m_current.release = monotonicNs();
                endHolding("released");
                m_lock.release();
            } else {
                readModifyWrite();
            }
        });
    }

    void endHolding(const char *reason)
    {
        m_held = false;
        m_current.reason = reason;
        m_current.end = monotonicNs();
        logOutcomes(reason); // the last round's late answers have arrived by now
        emitLine("E %d %lld %s\n", m_current.index, qint64(m_current.end), reason);
        writeRecord();
    }

    void onEnded(const char *reason)
    {
        if (!m_held)
            return;
        m_current.signal = monotonicNs();
        endHolding(reason);
        QTimer::singleShot(randomIn(0, m_config.retryDelay), this, [this] { want(); });
    }

    void onReleased()
    {
        QTimer::singleShot(randomIn(0, m_config.retryDelay), this, [this] { want(); });
    }

    void stopWanting()
    {
        m_stopping = true;
        emitLine("S %lld\n", monotonicNs());
        switch (m_lock.state()) {
        case DistributedLock::State::Acquiring:
            m_lock.release(); // cancels; acquireFailed() follows and finishes
            break;
        case DistributedLock::State::Unlocked:
            if (!m_held)
                finish();
            break;
        default:
            break; // a holding in progress ends by itself (release or signal), then want() finishes
        }
    }

    void finish()
    {
        if (m_finished)
            return;
        m_finished = true;
        emitLine("D %d\n", m_holdings);
        heartbeat();
        ::close(m_logFd);
        ::close(m_stallFd);
        ::close(m_refusalFd);
        ::close(m_counterFd);
        QCoreApplication::exit(0);
    }

    void writeRecord()
    {
        const Holding &h = m_current;
        char line[512];
        const int n = std::snprintf(
                line, sizeof line,
                "%d\t%d\t%lld\t%lld\t%lld\t%lld\t%s\t%lld\t%lld\t%lld\t%lld\t%d\t%d\t%lld\n",
                m_config.id, h.index, qint64(h.want), qint64(h.grant), qint64(h.deadline), qint64(h.end), h.reason,
                qint64(h.signal), qint64(h.release), qint64(h.lastWrite), qint64(h.stale), h.increments,
                h.extensions, qint64(h.wallOffset));
        if (n <= 0 || ::write(m_logFd, line, size_t(n)) != n)
            die("cannot write the log");
    }

    Config m_config;
    QRandomGenerator m_random;
    LockManager m_manager;
    DistributedLock m_lock;
    int m_counterFd = -1;
    int m_logFd = -1;
    int m_stallFd = -1;
    int m_refusalFd = -1;
    bool m_listRefused = false; // setServers() refused the list: never acquire
    QTimer m_heartbeat;
    qint64 m_lastTick = 0;
    qint64 m_lastTickCpu = 0;
    Holding m_current;
    int m_holdings = 0;
    bool m_held = false;
    bool m_stopping = false;
    bool m_finished = false;
    qint64 m_holdUntil = 0;
    qint64 m_checkedAt = 0; // when stillValid() last said yes
};

Config parse(const QCoreApplication &app)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral("One contender of a QRedlock safety run."));
    p.addHelpOption();
    const QCommandLineOption servers(QStringLiteral("servers"), QStringLiteral("Comma-separated Redis URLs."), QStringLiteral("urls"));
    const QCommandLineOption resource(QStringLiteral("resource"), QStringLiteral("Resource name."), QStringLiteral("name"), QStringLiteral("safety"));
    const QCommandLineOption id(QStringLiteral("id"), QStringLiteral("Worker number in the logs."), QStringLiteral("n"), QStringLiteral("0"));
    const QCommandLineOption ttl(QStringLiteral("ttl"), QStringLiteral("Lock TTL (ms)."), QStringLiteral("ms"), QStringLiteral("1000"));
    const QCommandLineOption autoExtend(QStringLiteral("auto-extend"), QStringLiteral("Extend the lease automatically."));
    const QCommandLineOption noNotifications(QStringLiteral("no-notifications"),
                                             QStringLiteral("LockManager::notifications off (plain polling)."));
    const QCommandLineOption holdMin(QStringLiteral("hold-min"), QStringLiteral("Shortest hold (ms)."), QStringLiteral("ms"), QStringLiteral("5"));
    const QCommandLineOption holdMax(QStringLiteral("hold-max"), QStringLiteral("Longest hold (ms)."), QStringLiteral("ms"), QStringLiteral("200"));
    const QCommandLineOption rmwMax(QStringLiteral("rmw-max"), QStringLiteral("Longest sleep between read and write (ms)."), QStringLiteral("ms"), QStringLiteral("5"));
    const QCommandLineOption seconds(QStringLiteral("seconds"), QStringLiteral("How long to contend (s)."), QStringLiteral("s"), QStringLiteral("10"));
    const QCommandLineOption seed(QStringLiteral("seed"), QStringLiteral("Random seed."), QStringLiteral("n"), QStringLiteral("1"));
    const QCommandLineOption retryDelay(QStringLiteral("retry-delay"), QStringLiteral("Manager retry delay (ms)."), QStringLiteral("ms"), QStringLiteral("50"));
    const QCommandLineOption retryJitter(QStringLiteral("retry-jitter"), QStringLiteral("Manager retry jitter (ms)."), QStringLiteral("ms"), QStringLiteral("25"));
    const QCommandLineOption serverTimeout(QStringLiteral("server-timeout"), QStringLiteral("Manager per-server timeout (ms)."), QStringLiteral("ms"), QStringLiteral("100"));
    const QCommandLineOption driftFactor(QStringLiteral("drift-factor"), QStringLiteral("Manager clock drift factor."), QStringLiteral("f"), QStringLiteral("0.01"));
    const QCommandLineOption counter(QStringLiteral("counter"), QStringLiteral("Shared counter file."), QStringLiteral("file"));
    const QCommandLineOption log(QStringLiteral("log"), QStringLiteral("This worker's log (TSV, appended)."), QStringLiteral("file"));
    const QCommandLineOption job(QStringLiteral("job"), QStringLiteral("Be an instance of a scheduled job (see jobworker.cpp)."));
    p.addOptions({ servers, resource, id, ttl, autoExtend, noNotifications, holdMin, holdMax, rmwMax, seconds, seed, retryDelay,
                   retryJitter, serverTimeout, driftFactor, counter, log, job });
    p.process(app);

    Config c;
    c.servers = p.value(servers).split(u',', Qt::SkipEmptyParts);
    c.resource = p.value(resource);
    c.id = p.value(id).toInt();
    c.ttl = p.value(ttl).toInt();
    c.autoExtend = p.isSet(autoExtend);
    c.notifications = !p.isSet(noNotifications);
    c.holdMinMs = p.value(holdMin).toInt();
    c.holdMaxMs = p.value(holdMax).toInt();
    c.rmwMaxMs = std::max(1, p.value(rmwMax).toInt());
    c.seconds = p.value(seconds).toDouble();
    c.seed = p.value(seed).toULongLong();
    c.retryDelay = p.value(retryDelay).toInt();
    c.retryJitter = p.value(retryJitter).toInt();
    c.serverTimeout = p.value(serverTimeout).toInt();
    c.driftFactor = p.value(driftFactor).toDouble();
    c.counterPath = p.value(counter);
    c.logPath = p.value(log);
    c.job = p.isSet(job);
    if (c.servers.isEmpty() || c.counterPath.isEmpty() || c.logPath.isEmpty() || c.ttl <= 0 || c.seconds <= 0) {
        std::fprintf(stderr, "qredlock_safety_worker: --servers, --counter, --log, --ttl > 0 and --seconds > 0 are required\n");
        std::exit(2);
    }
    return c;
}

} // namespace

int main(int argc, char **argv)
{
    struct sigaction stopRequest = {};
    stopRequest.sa_handler = onStopRequest;
    sigemptyset(&stopRequest.sa_mask);
    stopRequest.sa_flags = SA_RESTART;
    if (::sigaction(SIGTSTP, &stopRequest, nullptr) != 0)
        die("cannot handle SIGTSTP");
    struct sigaction stopInWindow = stopRequest;
    stopInWindow.sa_handler = onStopInWindowRequest;
    if (::sigaction(SIGUSR1, &stopInWindow, nullptr) != 0)
        die("cannot handle SIGUSR1");
    QCoreApplication app(argc, argv);
    const Config config = parse(app);
    if (config.job)
        return runJobWorker(config);
    Worker worker(config);
    QTimer::singleShot(0, &worker, [&worker] { worker.start(); });
    return app.exec();
}
