// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// nightly-report: a nightly job that must run once per occurrence, whichever of several
// instances (on several machines) happens to be up. By default it runs at 02:00 Berlin time
// (`--schedule "0 2 * * *" --tz Europe/Berlin`); an instance that comes up after 02:00
// while nobody ran that night's report runs it late (`--misfire run-once`, within an
// hour). Start it a few times against the same servers: each occurrence exactly one
// instance runs the report, the others say they were skipped, and all of them print what
// the shared job record says. Kill the one that runs it and another one takes over
// (with --retry). For a quick look use a seconds schedule, or --period for epoch-aligned
// periods:
//
//   nightly-report -s redis://127.0.0.1:7001 -s redis://127.0.0.1:7002
//                  -s redis://127.0.0.1:7003 --name A --schedule "*/10 * * * * *"
//
// The report itself runs in a worker thread and polls JobContext::isCancelled(), so it
// stops at once when the lock is lost.

#include <QRedlock/LockManager>
#include <QRedlock/SingletonJob>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QSysInfo>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <vector>

using namespace QRedlock;

namespace {

std::atomic<int> g_signal { 0 };

extern "C" void onSignal(int sig) { g_signal.store(sig); }

QString g_name;

// One narration line on stdout: "[A] 12:00:05.002 running report for period 42".
void say(const QString &text)
{
    const QString line = QStringLiteral("[%1] %2 %3\n")
                                 .arg(g_name, QTime::currentTime().toString(QStringLiteral("HH:mm:ss.zzz")), text);
    std::fputs(line.toLocal8Bit().constData(), stdout);
    std::fflush(stdout);
}

int positive(const QCommandLineParser &p, const QString &option, bool *ok)
{
    bool valid = false;
    const int v = p.value(option).toInt(&valid);
    if (!valid || v < 0) {
        std::fprintf(stderr, "nightly-report: --%s needs a number of milliseconds, got '%s'\n",
                     qPrintable(option), qPrintable(p.value(option)));
        *ok = false;
    }
    return v;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("nightly-report"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
            "Runs a report once per period on exactly one of several instances (QRedlock SingletonJob)."));
    parser.addHelpOption();
    const QCommandLineOption serverOpt({ QStringLiteral("s"), QStringLiteral("server") },
                                       QStringLiteral("A Redis server URL (repeat; default: QREDLOCK_SERVERS)."),
                                       QStringLiteral("url"));
    const QCommandLineOption nameOpt(QStringLiteral("name"), QStringLiteral("This instance's name in the narration."),
                                     QStringLiteral("name"),
                                     QSysInfo::machineHostName() + u'-' + QString::number(QCoreApplication::applicationPid()));
    const QCommandLineOption resourceOpt(QStringLiteral("resource"), QStringLiteral("The job's lock name."),
                                         QStringLiteral("name"), QStringLiteral("nightly-report"));
    const QCommandLineOption scheduleOpt(QStringLiteral("schedule"),
                                         QStringLiteral("When the report runs: a cron expression (5 fields, or 6 with seconds)."),
                                         QStringLiteral("cron"), QStringLiteral("0 2 * * *"));
    const QCommandLineOption zoneOpt(QStringLiteral("tz"), QStringLiteral("The schedule's IANA time zone."),
                                     QStringLiteral("zone"), QStringLiteral("Europe/Berlin"));
    const QCommandLineOption misfireOpt(QStringLiteral("misfire"),
                                        QStringLiteral("An occurrence nobody ran: run-once (late, within --grace) or skip."),
                                        QStringLiteral("policy"), QStringLiteral("run-once"));
    const QCommandLineOption graceOpt(QStringLiteral("grace"), QStringLiteral("How late a missed report may still run, in ms."),
                                      QStringLiteral("ms"), QStringLiteral("3600000"));
    const QCommandLineOption periodOpt(QStringLiteral("period"),
                                       QStringLiteral("Instead of --schedule: once per period of this many ms (epoch-aligned)."),
                                       QStringLiteral("ms"), QStringLiteral("0"));
    const QCommandLineOption workOpt(QStringLiteral("work"), QStringLiteral("How long the report takes, in ms."),
                                     QStringLiteral("ms"), QStringLiteral("2000"));
    const QCommandLineOption retryOpt(QStringLiteral("retry"),
                                      QStringLiteral("Look again this often within an occurrence, in ms, and take over a report that "
                                                     "failed or was cut short (0: only at the fire time)."),
                                      QStringLiteral("ms"), QStringLiteral("0"));
    const QCommandLineOption atMostOpt(QStringLiteral("lock-at-most-for"),
                                       QStringLiteral("The lease, and the longest a report may run, in ms."),
                                       QStringLiteral("ms"), QStringLiteral("4000"));
    const QCommandLineOption atLeastOpt(QStringLiteral("lock-at-least-for"),
                                        QStringLiteral("Clock-skew allowance after the period's end, in ms."),
                                        QStringLiteral("ms"), QStringLiteral("500"));
    const QCommandLineOption quitOpt(QStringLiteral("quit-after"), QStringLiteral("Exit after this many ms (0: never)."),
                                     QStringLiteral("ms"), QStringLiteral("0"));
    parser.addOptions({ serverOpt, nameOpt, resourceOpt, scheduleOpt, zoneOpt, misfireOpt, graceOpt, periodOpt, workOpt, retryOpt, atMostOpt, atLeastOpt, quitOpt });
    parser.process(app);

    bool ok = true;
    const int period = positive(parser, periodOpt.names().constFirst(), &ok);
    const int work = positive(parser, workOpt.names().constFirst(), &ok);
    const int retry = positive(parser, retryOpt.names().constFirst(), &ok);
    const int atMost = positive(parser, atMostOpt.names().constFirst(), &ok);
    const int atLeast = positive(parser, atLeastOpt.names().constFirst(), &ok);
    const int quitAfter = positive(parser, quitOpt.names().constFirst(), &ok);
    const int grace = positive(parser, graceOpt.names().constFirst(), &ok);
    const QString misfire = parser.value(misfireOpt);
    if (!ok || atMost == 0 || (misfire != u"run-once" && misfire != u"skip")) {
        std::fprintf(stderr, "nightly-report: --lock-at-most-for must be positive, --misfire run-once or skip\n");
        return 2;
    }
    g_name = parser.value(nameOpt);

    LockManager manager;
    QStringList servers = parser.values(serverOpt);
    if (servers.isEmpty())
        servers = qEnvironmentVariable("QREDLOCK_SERVERS").split(u',', Qt::SkipEmptyParts);
    if (!manager.setServers(servers)) {
        std::fprintf(stderr, "nightly-report: %s (give -s URL or set QREDLOCK_SERVERS)\n",
                     qPrintable(manager.errorString()));
        return 2;
    }

    auto job = std::make_unique<SingletonJob>();
    job->setManager(&manager);
    job->setResource(parser.value(resourceOpt));
    if (period > 0) {
        job->setOncePerPeriod(period);
    } else {
        job->setSchedule(parser.value(scheduleOpt));
        job->setTimeZone(parser.value(zoneOpt));
    }
    job->setMisfirePolicy(misfire == u"skip" ? SingletonJob::MisfirePolicy::Skip : SingletonJob::MisfirePolicy::RunOnce);
    job->setMisfireGrace(grace);
    job->setInterval(retry);
    job->setRetryFailedRuns(retry > 0); // a crashed or stopped instance's report is written by another
    job->setLockAtMostFor(atMost);
    job->setLockAtLeastFor(atLeast);

    // The report: `work` ms of steps in a worker thread, stopping as soon as it is told to.
    std::vector<QThread *> workers;
    if (!job->errorString().isEmpty()) { // a refused schedule, zone or duration
        std::fprintf(stderr, "nightly-report: %s\n", qPrintable(job->errorString()));
        return 2;
    }
    job->setJob([&workers, work, period](JobContext &ctx) {
        // Period mode names the period by its index; a schedule by its occurrence.
        const QString index = period > 0 ? QString::number(ctx.occurrence().toMSecsSinceEpoch() / period)
                                         : ctx.occurrence().toString(Qt::ISODate);
        const bool late = QDateTime::currentDateTimeUtc() > ctx.occurrence().addMSecs(500);
        say(QStringLiteral("running report for %1 %2 (%3 ms of work)%4")
                    .arg(period > 0 ? QStringLiteral("period") : QStringLiteral("occurrence"), index)
                    .arg(work)
                    .arg(late ? QStringLiteral(", late: a catch-up") : QString()));
        QThread *worker = QThread::create([ctx, work, index, period]() mutable {
            QElapsedTimer t;
            t.start();
            while (t.elapsed() < work) {
                if (ctx.isCancelled())
                    return; // the job object says "cancelled"; nothing more to do here
                QThread::msleep(20);
            }
            say(QStringLiteral("report for %1 %2 written in %3 ms")
                        .arg(period > 0 ? QStringLiteral("period") : QStringLiteral("occurrence"), index)
                        .arg(t.elapsed()));
            ctx.finish();
        });
        workers.erase(std::remove_if(workers.begin(), workers.end(),
                                     [](QThread *t) {
                                         if (!t->isFinished())
                                             return false;
                                         t->wait();
                                         delete t;
                                         return true;
                                     }),
                      workers.end());
        workers.push_back(worker);
        worker->start();
    });
    SingletonJob *j = job.get();
    QObject::connect(j, &SingletonJob::skipped, j, [j] {
        const bool held = j->errorString().contains(QLatin1String("held by another instance"));
        say(held ? QStringLiteral("skipped: held by another instance") : QStringLiteral("skipped: ") + j->errorString());
    });
    QObject::connect(j, &SingletonJob::finished, j, [] { say(QStringLiteral("done; this occurrence is taken")); });
    QObject::connect(j, &SingletonJob::lastRecordChanged, j, [j] {
        const QVariantMap r = j->lastRecord();
        say(QStringLiteral("record: %1 on %2 for %3%4")
                    .arg(r.value(QStringLiteral("outcome")).toString(), r.value(QStringLiteral("holder")).toString(),
                         r.value(QStringLiteral("occurrence")).toDateTime().toString(Qt::ISODate),
                         r.value(QStringLiteral("reason")).toString().isEmpty()
                                 ? QString()
                                 : QStringLiteral(" (%1)").arg(r.value(QStringLiteral("reason")).toString())));
    });
    QObject::connect(j, &SingletonJob::failed, j, [](const QString &why) { say(QStringLiteral("failed: ") + why); });
    QObject::connect(j, &SingletonJob::cancelled, j, [j] { say(QStringLiteral("cancelled: ") + j->errorString()); });

    // SIGINT / SIGTERM end the event loop, so the job releases its lock on the way out.
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    QTimer signalPoll;
    QObject::connect(&signalPoll, &QTimer::timeout, &app, [] {
        if (const int sig = g_signal.load()) {
            say(QStringLiteral("stopping (signal %1)").arg(sig));
            QCoreApplication::quit();
        }
    });
    signalPoll.start(50);
    if (quitAfter > 0) {
        QTimer::singleShot(quitAfter, &app, [] {
            say(QStringLiteral("stopping (--quit-after)"));
            QCoreApplication::quit();
        });
    }

    const QString when = period > 0 ? QStringLiteral("period %1 ms").arg(period)
                                    : QStringLiteral("schedule \"%1\" in %2").arg(job->schedule(), job->timeZone());
    say(QStringLiteral("up: %1 servers (quorum %2), %3, next %4, looking again every %5 ms")
                .arg(manager.serverCount()).arg(manager.quorum()).arg(when,
                     job->nextOccurrence().toString(Qt::ISODate)).arg(retry));
    job->setActive(true);
    const int rc = QCoreApplication::exec();

    if (job->isRunning())
        say(QStringLiteral("a report was in progress: cancelled, its lock released"));
    // Destroying the job cancels a report in progress (JobContext::isCancelled() turns true)
    // and releases its lock; a finished occurrence's lock stays until the next one is due.
    job.reset();
    for (QThread *worker : workers) {
        worker->wait();
        delete worker;
    }
    return rc;
}
