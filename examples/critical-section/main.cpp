// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// critical-section: a process that repeatedly enters a critical section guarded by a
// distributed lock, and says what it does. Run two or more of them against the same
// servers and watch them take turns.
//
//   critical-section --name alice --rounds 3 --hold 1500 -s redis://127.0.0.1:7001 ...
//
// Without -s, the servers come from QREDLOCK_SERVERS.
#include <QRedlock/DistributedLock>
#include <QRedlock/LockManager>

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QRandomGenerator>
#include <QtCore/QTextStream>
#include <QtCore/QTime>
#include <QtCore/QTimer>

#include <cstdio>

using QRedlock::DistributedLock;
using QRedlock::LockManager;

namespace {

QTextStream &out()
{
    static QTextStream stream(stdout);
    return stream;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("critical-section"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Takes turns in a critical section guarded by a Redlock."));
    parser.addHelpOption();
    const QCommandLineOption serverOpt({ QStringLiteral("s"), QStringLiteral("server") },
                                       QStringLiteral("Redis server URL (repeat; default: QREDLOCK_SERVERS)."),
                                       QStringLiteral("url"));
    const QCommandLineOption nameOpt(QStringLiteral("name"), QStringLiteral("Name shown in the output."),
                                     QStringLiteral("name"), QString::number(QCoreApplication::applicationPid()));
    const QCommandLineOption resourceOpt(QStringLiteral("resource"), QStringLiteral("Resource to lock."),
                                         QStringLiteral("name"), QStringLiteral("critical-section-demo"));
    const QCommandLineOption roundsOpt(QStringLiteral("rounds"), QStringLiteral("How many times to enter."),
                                       QStringLiteral("n"), QStringLiteral("3"));
    const QCommandLineOption holdOpt(QStringLiteral("hold"), QStringLiteral("How long to stay inside (ms)."),
                                     QStringLiteral("ms"), QStringLiteral("1000"));
    const QCommandLineOption ttlOpt(QStringLiteral("ttl"), QStringLiteral("Lock TTL (ms); auto-extended."),
                                    QStringLiteral("ms"), QStringLiteral("3000"));
    parser.addOptions({ serverOpt, nameOpt, resourceOpt, roundsOpt, holdOpt, ttlOpt });
    parser.process(app);

    const QString name = parser.value(nameOpt);
    const int rounds = parser.value(roundsOpt).toInt();
    const int hold = parser.value(holdOpt).toInt();
    const auto say = [name](const QString &text) {
        out() << QTime::currentTime().toString(QStringLiteral("HH:mm:ss.zzz")) << "  [" << name << "] " << text
              << Qt::endl;
    };

    LockManager manager;
    QStringList servers = parser.values(serverOpt);
    if (servers.isEmpty())
        servers = qEnvironmentVariable("QREDLOCK_SERVERS").split(u',', Qt::SkipEmptyParts);
    if (!manager.setServers(servers)) {
        std::fprintf(stderr, "critical-section: %s\n", qPrintable(manager.errorString()));
        return 64;
    }

    manager.setRetryDelay(100);
    manager.setRetryJitter(50);

    DistributedLock lock;
    lock.setManager(&manager);
    lock.setResource(parser.value(resourceOpt));
    lock.setTtl(parser.value(ttlOpt).toInt());
    lock.setAutoExtend(true);
    lock.setFencing(true);
    lock.setAcquireTimeout(60000);

    int done = 0;
    QTimer work;
    work.setSingleShot(true);

    const auto next = [&] {
        if (done >= rounds) {
            say(QStringLiteral("done after %1 rounds").arg(done));
            app.quit();
            return;
        }
        say(QStringLiteral("waiting for lock '%1'...").arg(lock.resource()));
        lock.acquire();
    };

    QObject::connect(&lock, &DistributedLock::acquired, &app, [&] {
        say(QStringLiteral(">>> holding '%1' (fencing token %2, valid for %3 ms): working for %4 ms")
                    .arg(lock.resource())
                    .arg(lock.fencingToken())
                    .arg(lock.remainingValidity())
                    .arg(hold));
        work.start(hold);
    });
    QObject::connect(&work, &QTimer::timeout, &app, [&] {
        ++done;
        say(QStringLiteral("<<< leaving the critical section"));
        lock.release();
    });
    QObject::connect(&lock, &DistributedLock::released, &app, [&] {
        // Pause longer than the others' retry delay: a waiting process gets its turn.
        QTimer::singleShot(300 + QRandomGenerator::global()->bounded(300), &app, next);
    });
    QObject::connect(&lock, &DistributedLock::acquireFailed, &app, [&] {
        say(QStringLiteral("could not get the lock: %1").arg(lock.errorString()));
        app.exit(75);
    });
    QObject::connect(&lock, &DistributedLock::lost, &app, [&] {
        work.stop();
        say(QStringLiteral("!!! lock lost: stopping work at once (%1)").arg(lock.errorString()));
        QTimer::singleShot(0, &app, next);
    });
    QObject::connect(&lock, &DistributedLock::expired, &app, [&] {
        work.stop();
        say(QStringLiteral("!!! lock expired: stopping work at once"));
        QTimer::singleShot(0, &app, next);
    });

    QTimer::singleShot(0, &app, next);
    return app.exec();
}
