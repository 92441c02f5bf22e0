// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The qredlock command-line tool, end to end: the flock(1)-style options (-n, -w, -E),
// --lock-at-least-for, durations with units, and problems told once, one line each.

#include "clifixture.h"

#include <QRegularExpression>
#include <QTest>

using namespace QRedlockCliTest;
using namespace QRedlockTest;

class tst_CliOptions : public CliFixture
{
    Q_OBJECT

private:
    // A qredlock run holding `resource` until the file "stop" appears; returns once it holds.
    QProcess *startHolder(const char *resource);

private Q_SLOTS:
    void initTestCase() { setUpCase(); }
    void init() { setUp(); }
    void cleanup() { tearDown(); }

    void conflictExitCode();
    void timeoutInSecondsWaitsThenGivesUp();
    void timeoutRunsOnceTheHolderIsDone();
    void lockAtLeastForKeepsTheKeyAfterAQuickCommand();
    void lockAtLeastForShorterThanTheCommandReleasesAtTheEnd();
    void problemsArePrintedOnce();
    void subcommandHelp();
};

QProcess *tst_CliOptions::startHolder(const char *resource)
{
    QProcess *holder = startTool(serverArgs() << "run" << "--resource" << resource << "--"
                                              << "sh" << "-c" << "echo held > held; " WaitLoop);
    if (waitForLine(file("held"), "held").isEmpty())
        qWarning("the holder did not start");
    return holder;
}

void tst_CliOptions::conflictExitCode()
{
    QProcess *holder = startHolder("conflict");
    // Held elsewhere: -E's code, at once (one attempt, the default -n).
    const Outcome e3 = runTool(serverArgs() << "run" << "-E" << "3" << "--resource" << "conflict" << "--" << "true");
    QCOMPARE(e3.exitCode, 3);
    QVERIFY2(e3.err.contains("not acquired"), e3.err.constData());
    const Outcome n = runTool(serverArgs() << "run" << "-n" << "--resource" << "conflict" << "--" << "true");
    QCOMPARE(n.exitCode, 75);
    // -E changes only the conflict's code: an outage stays 68.
    const Outcome outage = runTool(QStringList { QStringLiteral("-s"), QStringLiteral("redis://127.0.0.1:%1").arg(freePort()) }
                                   << "run" << "-E" << "3" << "--resource" << "conflict" << "--" << "true");
    QCOMPARE(outage.exitCode, 68);
    QFile(file("stop")).open(QIODevice::WriteOnly);
    QCOMPARE(finish(holder).exitCode, 0);
}

void tst_CliOptions::timeoutInSecondsWaitsThenGivesUp()
{
    QProcess *holder = startHolder("patience");
    const Outcome o = runTool(serverArgs() << "run" << "-w" << "0.6" << "--resource" << "patience" << "--" << "true");
    QCOMPARE(o.exitCode, 75);
    // Seconds, as flock(1): 0.6 s, not 0.6 ms (and not 600 s).
    QVERIFY2(o.elapsedMs >= 600, qPrintable(QString::number(o.elapsedMs)));
    QVERIFY2(o.elapsedMs < 5000, qPrintable(QString::number(o.elapsedMs)));
    QFile(file("stop")).open(QIODevice::WriteOnly);
    QCOMPARE(finish(holder).exitCode, 0);
}

void tst_CliOptions::timeoutRunsOnceTheHolderIsDone()
{
    QProcess *holder = startTool(serverArgs() << "run" << "--resource" << "later" << "--"
                                              << "sh" << "-c" << "echo held > held; sleep 0.5");
    QVERIFY(!waitForLine(file("held"), "held").isEmpty());
    const Outcome o = runTool(serverArgs() << "run" << "-w" << "10" << "--resource" << "later" << "--"
                                           << "sh" << "-c" << "echo second > second");
    QCOMPARE(o.exitCode, 0);
    QCOMPARE(linesOf(file("second")), QStringList { QStringLiteral("second") });
    QCOMPARE(finish(holder).exitCode, 0);
}

void tst_CliOptions::lockAtLeastForKeepsTheKeyAfterAQuickCommand()
{
    const Outcome o = runTool(serverArgs() << "run" << "--lock-at-least-for" << "3s" << "--resource" << "atleast"
                                           << "--" << "true");
    QCOMPARE(o.exitCode, 0);
    // qredlock does not linger: the key is left to expire on the servers.
    QVERIFY2(o.elapsedMs < 2500, qPrintable(QString::number(o.elapsedMs)));
    int holding = 0;
    for (int i = 0; i < m_cluster.size(); ++i) {
        const qint64 pttl = m_cluster.at(i).command({ "PTTL", "atleast" }).toLongLong();
        if (pttl > 0) {
            ++holding;
            // At least what is left of the 3 s, not the 30 s TTL.
            QVERIFY2(pttl <= 3100 && pttl >= 3000 - o.elapsedMs - 200, qPrintable(QString::number(pttl)));
        }
    }
    QCOMPARE(holding, 3);
    // The same job started again right away (a clock behind, say) finds it held.
    const Outcome again = runTool(serverArgs() << "run" << "--resource" << "atleast" << "--" << "true");
    QCOMPARE(again.exitCode, 75);
    // And once the time is up it is free.
    QTRY_VERIFY_WITH_TIMEOUT(m_cluster.at(0).command({ "EXISTS", "atleast" }).toLongLong() == 0, 5000);
    const Outcome after = runTool(serverArgs() << "run" << "-w" << "2" << "--resource" << "atleast" << "--" << "true");
    QCOMPARE(after.exitCode, 0);
}

void tst_CliOptions::lockAtLeastForShorterThanTheCommandReleasesAtTheEnd()
{
    const Outcome o = runTool(serverArgs() << "run" << "--lock-at-least-for" << "100ms" << "--resource" << "short"
                                           << "--" << "sleep" << "0.4");
    QCOMPARE(o.exitCode, 0);
    for (int i = 0; i < m_cluster.size(); ++i)
        QCOMPARE(m_cluster.at(i).command({ "EXISTS", "short" }).toLongLong(), 0);
}

void tst_CliOptions::problemsArePrintedOnce()
{
    // Two of three servers down: one line that names each server once, without stray
    // formatting, and no separate per-connection warnings.
    const QString down1 = QStringLiteral("redis://127.0.0.1:%1").arg(freePort());
    const QString down2 = QStringLiteral("redis://127.0.0.2:%1").arg(freePort());
    // As a user runs it: no QT_LOGGING_RULES from the test harness.
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove(QStringLiteral("QT_LOGGING_RULES"));
    env.remove(QStringLiteral("QREDLOCK_SERVERS"));
    const Outcome o = runTool(QStringList { QStringLiteral("-s"), m_cluster.urls().first(), QStringLiteral("-s"), down1,
                                            QStringLiteral("-s"), down2 }
                              << "run" << "--resource" << "once" << "--" << "true", {}, env);
    QCOMPARE(o.exitCode, 68);
    const QString err = QString::fromUtf8(o.err);
    QCOMPARE(err.count(u'\n'), 1);
    QCOMPARE(err.count(down1), 1);
    QCOMPARE(err.count(down2), 1);
    QVERIFY2(!err.contains(QLatin1String("( ")) && !err.contains(QLatin1String(" )")), qPrintable(err));
    QVERIFY2(err.startsWith(QLatin1String("qredlock: lock 'once' not acquired")), qPrintable(err));

    // An even number of servers: the warning reads as a sentence.
    const Outcome even = runTool(QStringList { QStringLiteral("-s"), m_cluster.urls().at(0), QStringLiteral("-s"),
                                               m_cluster.urls().at(1) }
                                 << "run" << "--resource" << "even" << "--" << "true", {}, env);
    QCOMPARE(even.exitCode, 0);
    QVERIFY2(even.err.contains("2 servers tolerate no more failures than 1"), even.err.constData());
    QVERIFY2(!even.err.contains("( "), even.err.constData());
}

void tst_CliOptions::subcommandHelp()
{
    const Outcome run = runTool({ QStringLiteral("run"), QStringLiteral("--help") });
    QCOMPARE(run.exitCode, 0);
    QVERIFY(run.out.startsWith("Usage: qredlock run "));
    QVERIFY(run.out.contains("-w, --timeout <seconds>"));
    QVERIFY(!run.out.contains("\n  --cron <expression>"));
    QVERIFY(!run.out.contains("qredlock schedule"));
    QVERIFY(!run.out.contains("--token"));
    const Outcome release = runTool({ QStringLiteral("release"), QStringLiteral("-h") });
    QCOMPARE(release.exitCode, 0);
    QVERIFY(release.out.contains("--token <token>"));
    QVERIFY(!release.out.contains("\n  --ttl <duration>"));
}

QTEST_GUILESS_MAIN(tst_CliOptions)
#include "tst_clioptions.moc"
