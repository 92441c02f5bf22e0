// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// qredlock_safety_worker --job: one instance of a scheduled job in a safety run.
//
// A SingletonJob on the schedule "* * * * * *" (every second; misfire policy RunOnce, retries
// within the occurrence every 200 ms, lockAtMostFor = --ttl). Each run is one holding in the
// lock worker's format (--log, so the checker's overlap, lost-update and late-signal rules
// apply): it reads the shared counter, sleeps 1..--rmw-max ms, and writes it + 1 only if the
// run is not cancelled and its deadline has not passed; then it finishes. Each run's start
// also goes to --log's ".runs" file: occurrence (ms since the epoch), start (CLOCK_MONOTONIC
// ns), worker. The checker fails the run if any occurrence was started twice.
// stdout: "G"/"E" lines at a run's start and end (the runner follows who runs), "S" when the
// run time is over, "D" at the end.

#include "jobworker.h"

#include "clocks.h"

#include <QRedlock/LockManager>
#include <QRedlock/SingletonJob>

#include <QCoreApplication>
#include <QRandomGenerator>
#include <QTimer>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

using namespace QRedlock;

namespace QRedlockSafety {

namespace {

[[noreturn]] void fail(const char *what)
{
    std::fprintf(stderr, "qredlock_safety_worker --job: %s: %s\n", what, std::strerror(errno));
    std::exit(2);
}

void writeAll(int fd, const QByteArray &line)
{
    if (::write(fd, line.constData(), size_t(line.size())) != line.size())
        fail("cannot write a log");
}

} // namespace

int runJobWorker(const WorkerConfig &c)
{
    const int counterFd = ::open(c.counterPath.toLocal8Bit().constData(), O_RDWR);
    const int logFd = ::open(c.logPath.toLocal8Bit().constData(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int runsFd = ::open((c.logPath + QStringLiteral(".runs")).toLocal8Bit().constData(),
                              O_WRONLY | O_CREAT | O_APPEND, 0644);
    // The checker reads these two for every worker; a job worker has nothing to put there.
    for (const char *suffix : { ".stalls", ".refusals" }) {
        const int fd = ::open((c.logPath + QLatin1String(suffix)).toLocal8Bit().constData(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0)
            fail("cannot create a log");
        ::close(fd);
    }
    if (counterFd < 0 || logFd < 0 || runsFd < 0)
        fail("cannot open the counter or the logs");

    LockManager manager;
    manager.setRetryDelay(c.retryDelay);
    manager.setRetryJitter(c.retryJitter);
    manager.setServerTimeout(c.serverTimeout);
    manager.setDriftFactor(c.driftFactor);
    manager.setHolderIdentity(QStringLiteral("worker-%1").arg(c.id));
    if (!manager.setServers(c.servers)) {
        std::fprintf(stderr, "qredlock_safety_worker --job: %s\n", qPrintable(manager.errorString()));
        return 2;
    }
    SingletonJob job;
    job.setManager(&manager);
    job.setResource(c.resource);
    job.setSchedule(QStringLiteral("* * * * * *"));
    job.setTimeZone(QStringLiteral("UTC"));
    job.setMisfirePolicy(SingletonJob::MisfirePolicy::RunOnce);
    job.setInterval(200);
    job.setLockAtMostFor(c.ttl);
    QRandomGenerator random = seededGenerator(quint64(c.id) * 7919 + 1, quint32(c.id));
    int runs = 0;
    int pending = 0; // runs whose counter write has not come yet
    bool stopping = false;
    bool finished = false;
    const auto finish = [&] {
        if (finished)
            return;
        finished = true;
        std::fprintf(stdout, "D %d\n", runs);
        std::fflush(stdout);
        QCoreApplication::exit(0);
    };

    job.setJob([&](JobContext &ctx) {
        const int index = ++runs;
        const qint64 grant = monotonicNs();
        // The worker's own deadline: what the job's context promises, never more.
        const qint64 deadline = grant + ctx.deadline().remainingTimeNSecs();
        const qint64 wallOffset = clockNs(CLOCK_REALTIME) - grant;
        std::fprintf(stdout, "G %d %lld %lld %lld\n", index, grant, deadline, wallOffset);
        std::fflush(stdout);
        writeAll(runsFd, QByteArray::number(ctx.occurrence().toMSecsSinceEpoch()) + '\t' + QByteArray::number(grant)
                                 + '\t' + QByteArray::number(c.id) + '\n');
        char buffer[32] = {};
        if (::pread(counterFd, buffer, sizeof buffer - 1, 0) < 0)
            fail("cannot read the counter");
        const long long value = std::strtoll(buffer, nullptr, 10);
        const int sleepMs = 1 + int(random.bounded(quint32(std::max(1, c.rmwMaxMs))));
        ++pending;
        QTimer::singleShot(sleepMs, Qt::PreciseTimer, &job, [&, ctx, index, grant, deadline, wallOffset, value]() mutable {
            int increments = 0;
            qint64 lastWrite = 0;
            qint64 stale = 0;
            const qint64 check = monotonicNs();
            if (!ctx.isCancelled() && check < deadline) {
                char out[32];
                const int n = std::snprintf(out, sizeof out, "%020lld\n", value + 1);
                if (::pwrite(counterFd, out, size_t(n), 0) != n)
                    fail("cannot write the counter");
                increments = 1;
                lastWrite = check;
            } else if (check >= deadline) {
                stale = check;
            }
            const bool cancelled = ctx.isCancelled();
            const qint64 end = monotonicNs();
            const char *reason = cancelled ? "lost" : "released";
            ctx.finish();
            std::fprintf(stdout, "E %d %lld %s\n", index, end, reason);
            std::fflush(stdout);
            // worker, holding, want, grant, deadline, end, reason, signal, release, last write,
            // stale, increments, extensions, wall offset (the lock worker's format).
            char line[512];
            const int n = std::snprintf(line, sizeof line, "%d\t%d\t%lld\t%lld\t%lld\t%lld\t%s\t%lld\t%lld\t%lld\t%lld\t%d\t%d\t%lld\n",
                                        c.id, index, grant, grant, deadline, end, reason, cancelled ? end : 0LL,
                                        cancelled ? 0LL : end, lastWrite, stale, increments, 0, wallOffset);
            writeAll(logFd, QByteArray(line, n));
            if (--pending == 0 && stopping)
                QTimer::singleShot(50, &job, finish); // the outcome's record write leaves first
        });
    });

    QTimer::singleShot(int(c.seconds * 1000) + 10000, [] {
        std::fprintf(stderr, "qredlock_safety_worker --job: still running 10 s after the end, giving up\n");
        std::exit(3);
    });
    QTimer::singleShot(int(c.seconds * 1000), Qt::PreciseTimer, &job, [&] {
        stopping = true;
        std::fprintf(stdout, "S %lld\n", monotonicNs());
        std::fflush(stdout);
        job.setActive(false);
        if (pending == 0)
            QTimer::singleShot(50, &job, finish);
    });
    job.setActive(true);
    const int rc = QCoreApplication::exec();
    ::close(counterFd);
    ::close(logFd);
    ::close(runsFd);
    return rc;
}

} // namespace QRedlockSafety
