// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The qredlock command-line tool, end to end: `run`. Real redis-server processes, the real
// tool binary and real child commands (/bin/sh) that record what they did into files of a
// temporary folder (see clifixture.h).

#include "clifixture.h"
#include "fakeserver.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QTest>

#include <cerrno>
#include <csignal>
#include <unistd.h>

using namespace QRedlockCliTest;
using namespace QRedlockTest;

class tst_Cli : public CliFixture
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { setUpCase(); }
    void init() { setUp(); }
    void cleanup() { tearDown(); }

    void usage_data();
    void usage();
    void helpShowsEveryOptionWithAnExample();
    void exitStatusPassesThrough_data();
    void exitStatusPassesThrough();
    void environmentAndChannels();
    void fencingTokensIncrease();
    void secondRunWithoutWaitFailsAtOnce();
    void secondRunWithWaitRunsAfterwards();
    void twentyConcurrentRunsNeverOverlap();
    void pausedMajorityStopsCommandBeforeValidityEnds();
    void lostLockKillsCommandIgnoringTerm();
    void signalReachesCommandAndLockIsReleased_data();
    void signalReachesCommandAndLockIsReleased();
    void signalWhileWaitingGivesUp();
    void killedToolStopsCommand();
    void terminationReachesEveryDescendantBeforeRelease();
    void lostLockTerminatesOrphans();
    void backgroundedWorkKeepsTheLock();
    void groupSignalReachesCommandOnce();
};

void tst_Cli::usage_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<bool>("withServers");
    QTest::addColumn<QString>("message");

    QTest::newRow("no subcommand") << QStringList() << true << "missing subcommand";
    QTest::newRow("unknown subcommand") << sl({ "lock", "--resource", "x" }) << true << "unknown subcommand 'lock'";
    QTest::newRow("unknown option") << sl({ "run", "--bogus", "--resource", "x", "--", "true" }) << true
                                    << "Unknown option 'bogus'";
    QTest::newRow("no servers") << sl({ "run", "--resource", "x", "--", "true" }) << false << "no Redis servers";
    QTest::newRow("bad URL") << sl({ "run", "-s", "http://127.0.0.1:1", "--resource", "x", "--", "true" }) << false
                             << "invalid server URL";
    QTest::newRow("bad port") << sl({ "status", "-s", "redis://127.0.0.1:99999", "--resource", "x" }) << false
                              << "invalid port";
    QTest::newRow("duplicate server") << sl({ "run", "-s", "redis://127.0.0.1:7000", "-s",
                                                       "redis://localhost:7000", "--resource", "x", "--", "true" })
                                      << false << "listed twice";
    QTest::newRow("missing resource") << sl({ "run", "--", "true" }) << true << "missing --resource";
    QTest::newRow("empty resource") << sl({ "run", "--resource", "", "--", "true" }) << true << "empty resource";
    QTest::newRow("ttl 0") << sl({ "run", "--resource", "x", "--ttl", "0", "--", "true" }) << true
                           << "--ttl must be a positive duration";
    QTest::newRow("ttl negative") << sl({ "run", "--resource", "x", "--ttl", "-5", "--", "true" }) << true
                                  << "--ttl must be a positive duration";
    QTest::newRow("ttl unit typo") << sl({ "run", "--resource", "x", "--ttl", "10sec", "--", "true" }) << true
                                   << "--ttl: unknown unit 'sec' in '10sec'";
    // Below (4 x server timeout + 2) / (1 - drift factor): refused before anything is acquired.
    QTest::newRow("ttl 3") << sl({ "run", "--resource", "x", "--ttl", "3", "--", "true" }) << true
                           << "--ttl 3 ms is too short to be renewed in time: at least 1013 ms with --server-timeout 250";
    QTest::newRow("ttl just too short") << sl({ "run", "--resource", "x", "--ttl", "1012", "--", "true" }) << true
                                        << "at least 1013 ms";
    QTest::newRow("ttl too short for server-timeout") << sl({ "run", "--resource", "x", "--server-timeout", "100",
                                                              "--ttl", "406", "--", "true" })
                                                      << true << "at least 407 ms with --server-timeout 100";
    QTest::newRow("wait negative") << sl({ "run", "--resource", "x", "--wait", "-1", "--", "true" }) << true
                                   << "--wait must be 0 or a positive duration";
    QTest::newRow("kill-after garbage") << sl({ "run", "--resource", "x", "--kill-after", "soon", "--", "true" })
                                        << true << "--kill-after: 'soon' is not a duration";
    QTest::newRow("server-timeout 0") << sl({ "status", "--resource", "x", "--server-timeout", "0" }) << true
                                      << "--server-timeout must be a positive duration";
    QTest::newRow("no command") << sl({ "run", "--resource", "x" }) << true << "missing command after '--'";
    QTest::newRow("empty command") << sl({ "run", "--resource", "x", "--" }) << true << "missing command after '--'";
    QTest::newRow("command without --") << sl({ "run", "--resource", "x", "true" }) << true
                                        << "unexpected argument 'true': put the command after '--'";
    QTest::newRow("json with run") << sl({ "run", "--resource", "x", "--json", "--", "true" }) << true
                                   << "--json is only valid with 'status'";
    QTest::newRow("token with status") << sl({ "status", "--resource", "x", "--token", "t" }) << true
                                       << "--token is only valid with 'release'";
    QTest::newRow("release without token") << sl({ "release", "--resource", "x" }) << true << "missing --token";
    QTest::newRow("command after status") << sl({ "status", "--resource", "x", "--", "true" }) << true
                                          << "'status' takes no command";
    QTest::newRow("verbose and quiet") << sl({ "run", "-v", "-q", "--resource", "x", "--", "true" }) << true
                                       << "exclude each other";
}

void tst_Cli::usage()
{
    QFETCH(QStringList, args);
    QFETCH(bool, withServers);
    QFETCH(QString, message);
    // The servers are never contacted: the checks come first (port 1 would refuse anyway).
    if (withServers)
        args = sl({ "-s", "redis://127.0.0.1:1" }) + args;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QREDLOCK_SERVERS"), QString());
    const Outcome o = runTool(args, {}, env);
    QCOMPARE(o.exitCode, 64);
    QCOMPARE(o.status, QProcess::NormalExit);
    QVERIFY(o.out.isEmpty());
    QVERIFY2(o.err.endsWith('\n') && o.err.count('\n') == 1, o.err.constData());
    QVERIFY2(QString::fromUtf8(o.err).contains(message), o.err.constData());
    QVERIFY2(o.err.startsWith("qredlock: "), o.err.constData());
}

void tst_Cli::helpShowsEveryOptionWithAnExample()
{
    const Outcome o = runTool({ QStringLiteral("--help") });
    QCOMPARE(o.exitCode, 0);
    const QString help = QString::fromUtf8(o.out);
    const QStringList options = sl({ "--server", "--resource", "--ttl", "--wait", "--retry-delay", "--server-timeout",
                                "--fencing", "--kill-after", "--key-prefix", "--token", "--json", "--verbose",
                                "--quiet", "--help", "--version", "--nonblock", "--timeout", "--conflict-exit-code",
                                "--lock-at-least-for", "--lock-at-most-for", "--cron", "--tz", "--misfire", "--job" });
    for (const QString &option : options) {
        // The option's own entry starts a line and has an "Example:" before the next entry.
        const QRegularExpression entry(u"\n  (-\\w, )?" + QRegularExpression::escape(option)
                                       + u"(?: <[^\n]*)?\n(?:[^\n]*\n)*?\\s+Example:");
        QVERIFY2(entry.match(help).hasMatch(), qPrintable(option));
    }
    for (const char *code : { "64", "65", "68", "69", "70", "75", "76", "77" })
        QVERIFY2(help.contains(QLatin1String(code)), code);

    const Outcome v = runTool({ QStringLiteral("--version") });
    QCOMPARE(v.exitCode, 0);
    QVERIFY2(v.out.startsWith("qredlock "), v.out.constData());
}

// ---- run ---------------------------------------------------------------------------------

void tst_Cli::exitStatusPassesThrough_data()
{
    QTest::addColumn<QStringList>("command");
    QTest::addColumn<int>("expected");

    QTest::newRow("0") << sl({ "sh", "-c", "exit 0" }) << 0;
    QTest::newRow("7") << sl({ "sh", "-c", "exit 7" }) << 7;
    QTest::newRow("SIGUSR1") << sl({ "sh", "-c", "kill -USR1 $$" }) << 128 + SIGUSR1;
    QTest::newRow("SIGKILL") << sl({ "sh", "-c", "kill -KILL $$" }) << 128 + SIGKILL;
    QTest::newRow("not found") << sl({ "qredlock-test-no-such-command" }) << 127;
    QTest::newRow("not executable") << sl({ "/etc/hostname" }) << 126;
}

void tst_Cli::exitStatusPassesThrough()
{
    QFETCH(QStringList, command);
    QFETCH(int, expected);
    const Outcome o = runTool(serverArgs() << "run" << "--resource" << "status" << "--" << command);
    QCOMPARE(o.status, QProcess::NormalExit);
    QCOMPARE(o.exitCode, expected);
    // Released afterwards, whatever the command did.
    for (int i = 0; i < m_cluster.size(); ++i)
        QVERIFY(!get(i, "status").isValid());
}

void tst_Cli::environmentAndChannels()
{
    // The environment, and stdin / stdout / stderr passed through byte for byte.
    const QString script = QStringLiteral(
            "echo \"$QREDLOCK_RESOURCE|$QREDLOCK_TOKEN|${QREDLOCK_FENCING_TOKEN-unset}\" > env.txt; "
            "cat; printf 'to stderr\\n' >&2");
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove(QStringLiteral("QREDLOCK_SERVERS"));
    env.insert(QStringLiteral("QREDLOCK_FENCING_TOKEN"), QStringLiteral("stale")); // must not leak through
    static const char raw[] = "line one\n\x01\x02 binary\xff\n";
    const QByteArray input(raw, sizeof raw - 1); // binary bytes, no terminating NUL
    const Outcome o = runTool(serverArgs() << "run" << "--resource" << "env" << "--key-prefix" << "p:" << "--"
                                           << "sh" << "-c" << script,
                              input, env);
    QCOMPARE(o.exitCode, 0);
    QCOMPARE(o.out, input);
    QCOMPARE(o.err, QByteArray("to stderr\n"));
    const QStringList fields = linesOf(file("env.txt")).value(0).split(u'|');
    QCOMPARE(fields.size(), 3);
    QCOMPARE(fields.at(0), QStringLiteral("env"));
    // 160 random bits, then the holder's identity (host/pid/application), percent-encoded.
    QVERIFY2(QRegularExpression(QStringLiteral("^[0-9a-f]{40}-[!-~]+/[0-9]+/qredlock$")).match(fields.at(1)).hasMatch(),
             qPrintable(fields.at(1)));
    QCOMPARE(fields.at(2), QStringLiteral("unset"));

    // QREDLOCK_SERVERS is the default server list.
    env.insert(QStringLiteral("QREDLOCK_SERVERS"), m_cluster.urls().join(u','));
    const Outcome fromEnv = runTool(sl({ "run", "--resource", "env", "--", "sh", "-c", "exit 5" }), {}, env);
    QCOMPARE(fromEnv.exitCode, 5);
}

void tst_Cli::fencingTokensIncrease()
{
    qint64 previous = 0;
    for (int i = 0; i < 3; ++i) {
        const Outcome o = runTool(serverArgs() << "run" << "--fencing" << "--resource" << "fenced" << "--" << "sh"
                                               << "-c" << "echo $QREDLOCK_FENCING_TOKEN");
        QCOMPARE(o.exitCode, 0);
        bool ok = false;
        const qint64 token = o.out.trimmed().toLongLong(&ok);
        QVERIFY2(ok, o.out.constData());
        QVERIFY2(token > previous, o.out.constData());
        previous = token;
    }
}

void tst_Cli::secondRunWithoutWaitFailsAtOnce()
{
    const QStringList base = serverArgs() << "run" << "--resource" << "pair" << "--" << "sh" << "-c"
                                          << "echo start $1 >> log; sleep 1; echo end $1 >> log" << "sh";
    QProcess *first = startTool(QStringList(base) << "A");
    QVERIFY(!waitForLine(file("log"), "start A").isEmpty());

    const Outcome second = runTool(QStringList(base) << "B");
    QCOMPARE(second.exitCode, 75);
    QVERIFY2(second.elapsedMs < 1000, qPrintable(QString::number(second.elapsedMs)));
    QVERIFY2(second.err.contains("not acquired"), second.err.constData());
    QCOMPARE(linesOf(file("log")), sl({ "start A" })); // A still runs, B never started

    const Outcome a = finish(first);
    QCOMPARE(a.exitCode, 0);
    QCOMPARE(linesOf(file("log")), (sl({ "start A", "end A" })));

    // -q keeps the refusal silent (cron mails nothing), the status stays 75.
    QProcess *holder = startTool(QStringList(base) << "C");
    QVERIFY(!waitForLine(file("log"), "start C").isEmpty());
    const Outcome silent = runTool(serverArgs() << "run" << "-q" << "--resource" << "pair" << "--" << "true");
    QCOMPARE(silent.exitCode, 75);
    QVERIFY2(silent.err.isEmpty(), silent.err.constData());
    QCOMPARE(finish(holder).exitCode, 0);
}

void tst_Cli::secondRunWithWaitRunsAfterwards()
{
    const QStringList base = serverArgs() << "run" << "--wait" << "10000" << "--retry-delay" << "20" << "--resource"
                                          << "queue" << "--" << "sh" << "-c"
                                          << "echo start $1 >> log; sleep 0.5; echo end $1 >> log" << "sh";
    QProcess *first = startTool(QStringList(base) << "A");
    QVERIFY(!waitForLine(file("log"), "start A").isEmpty());
    QProcess *second = startTool(QStringList(base) << "B");
    const Outcome a = finish(first);
    const Outcome b = finish(second);
    QCOMPARE(a.exitCode, 0);
    QCOMPARE(b.exitCode, 0);
    QCOMPARE(linesOf(file("log")), (sl({ "start A", "end A", "start B", "end B" })));
}

void tst_Cli::twentyConcurrentRunsNeverOverlap()
{
    // Appends of a few bytes are atomic, so the log's order is the real order: any overlap
    // shows as two "start" lines in a row.
    const int n = 20;
    QList<QProcess *> runs;
    for (int i = 0; i < n; ++i) {
        runs << startTool(serverArgs() << "run" << "--wait" << "60000" << "--retry-delay" << "20" << "--resource"
                                       << "crowd" << "--" << "sh" << "-c"
                                       << "echo start $1 >> log; sleep 0.05; echo end $1 >> log" << "sh"
                                       << QString::number(i));
    }
    for (QProcess *p : std::as_const(runs)) {
        const Outcome o = finish(p, 90000);
        QCOMPARE(o.exitCode, 0);
    }
    const QStringList lines = linesOf(file("log"));
    QCOMPARE(lines.size(), 2 * n);
    QSet<QString> seen;
    for (int i = 0; i < lines.size(); i += 2) {
        const QString id = lines.at(i).section(u' ', 1);
        QCOMPARE(lines.at(i), u"start " + id);
        QCOMPARE(lines.at(i + 1), u"end " + id);
        seen.insert(id);
    }
    QCOMPARE(seen.size(), n);
}

void tst_Cli::pausedMajorityStopsCommandBeforeValidityEnds()
{
    // TTL 1500 ms: the first renewal is due at 500 ms. Two of three servers stop before it,
    // so no renewal can succeed and the lease granted at acquisition (before "started") runs
    // out before started + 1500 ms. The command must get SIGTERM before that, namely once a
    // third of the TTL is left (started + ~1000 ms), not only when the validity is gone.
    const int ttl = 1500;
    QProcess *run = startTool(serverArgs() << "run" << "--ttl" << QString::number(ttl) << "--retry-delay" << "50"
                                           << "--server-timeout" << "100" << "--resource" << "paused" << "--"
                                           << "sh" << "-c"
                                           << "trap 'echo term $(date +%s%3N) >> log; exit 0' TERM; "
                                              "echo started $(date +%s%3N) >> log; "
                                              WaitLoop);
    const QString started = waitForLine(file("log"), "started");
    QVERIFY(!started.isEmpty());
    const qint64 startedMs = numberIn(started);
    const qint64 pausedAt = nowMs();
    QVERIFY2(pausedAt < startedMs + ttl / 3, "too slow to pause before the first renewal");
    m_cluster.at(0).pause();
    m_cluster.at(1).pause();

    const Outcome o = finish(run, 20000);
    for (int i = 0; i < 2; ++i)
        m_cluster.at(i).resume();
    QCOMPARE(o.exitCode, 69);
    const QString term = waitForLine(file("log"), "term", 0);
    QVERIFY2(!term.isEmpty(), o.err.constData());
    const qint64 termMs = numberIn(term);
    qInfo("SIGTERM %lld ms after the command started (TTL %d ms)", termMs - startedMs, ttl);
    QVERIFY(termMs >= pausedAt);
    QVERIFY2(termMs < startedMs + ttl, "SIGTERM came after the validity ran out");
    // The trap runs within one 20 ms sleep of the signal.
    QVERIFY2(termMs < startedMs + ttl - ttl / 3 + 150, "SIGTERM did not come with a third of the TTL left");
    QVERIFY2(o.err.contains("could not be renewed"), o.err.constData());
}

void tst_Cli::lostLockKillsCommandIgnoringTerm()
{
    // Another client overwrites the key everywhere: the next renewal (at ttl/3 = 300 ms) is
    // refused by all servers, the lock is lost, the command ignores SIGTERM and is killed
    // after --kill-after.
    const int killAfter = 400;
    QProcess *run = startTool(serverArgs() << "run" << "--ttl" << "900" << "--server-timeout" << "200"
                                           << "--kill-after" << QString::number(killAfter)
                                           << "--resource" << "stolen" << "--" << "sh" << "-c"
                                           << "trap '' TERM; echo pid $$ >> log; exec sleep 30");
    const QString pidLine = waitForLine(file("log"), "pid");
    QVERIFY(!pidLine.isEmpty());
    const qint64 childPid = numberIn(pidLine);
    QElapsedTimer sinceSteal;
    sinceSteal.start();
    for (int i = 0; i < m_cluster.size(); ++i)
        QVERIFY(setOn(i, "stolen", "someone-else"));

    const Outcome o = finish(run, 20000);
    QCOMPARE(o.exitCode, 69);
    QVERIFY2(sinceSteal.elapsed() >= killAfter, qPrintable(QString::number(sinceSteal.elapsed())));
    QVERIFY2(o.err.contains("lost"), o.err.constData());
    QVERIFY2(o.err.contains("SIGKILL"), o.err.constData());
    QVERIFY(!processExists(childPid));
    // The new holder's keys are not touched.
    for (int i = 0; i < m_cluster.size(); ++i)
        QCOMPARE(get(i, "stolen"), QVariant(QByteArray("someone-else")));
}

void tst_Cli::signalReachesCommandAndLockIsReleased_data()
{
    QTest::addColumn<int>("signalNumber");
    QTest::newRow("SIGTERM") << int(SIGTERM);
    QTest::newRow("SIGINT") << int(SIGINT);
    QTest::newRow("SIGHUP") << int(SIGHUP);
}

void tst_Cli::signalReachesCommandAndLockIsReleased()
{
    QFETCH(int, signalNumber);
    QProcess *run = startTool(serverArgs() << "run" << "--resource" << "sig" << "--" << "sh" << "-c"
                                           << "for s in TERM INT HUP; do trap \"echo got $s >> log; exit 3\" $s; done; "
                                              "echo started >> log;" WaitLoop);
    QVERIFY(!waitForLine(file("log"), "started").isEmpty());
    for (int i = 0; i < m_cluster.size(); ++i)
        QVERIFY(get(i, "sig").isValid());
    QCOMPARE(::kill(pid_t(run->processId()), signalNumber), 0);
    const Outcome o = finish(run);
    QCOMPARE(o.exitCode, 3); // the command's own status: it ended while holding the lock
    const QString expected = QStringLiteral("got ") + QString::fromLatin1(QTest::currentDataTag()).mid(3);
    QCOMPARE(linesOf(file("log")), (QStringList { QStringLiteral("started"), expected }));
    for (int i = 0; i < m_cluster.size(); ++i)
        QVERIFY(!get(i, "sig").isValid());
}

void tst_Cli::signalWhileWaitingGivesUp()
{
    QProcess *holder = startTool(serverArgs() << "run" << "--resource" << "busy" << "--" << "sh" << "-c"
                                              << "echo started >> log;" WaitLoop);
    QVERIFY(!waitForLine(file("log"), "started").isEmpty());
    QProcess *waiter = startTool(serverArgs() << "run" << "--wait" << "30000" << "--resource" << "busy" << "--"
                                              << "sh" << "-c" << "echo waiter ran >> log");
    QTest::qWait(300);
    QCOMPARE(waiter->state(), QProcess::Running);
    QElapsedTimer t;
    t.start();
    QCOMPARE(::kill(pid_t(waiter->processId()), SIGTERM), 0);
    const Outcome w = finish(waiter, 5000);
    QCOMPARE(w.exitCode, 128 + SIGTERM);
    QVERIFY2(t.elapsed() < 2000, qPrintable(QString::number(t.elapsed())));

    QFile(file("stop")).open(QIODevice::WriteOnly);
    QCOMPARE(finish(holder).exitCode, 0);
    QCOMPARE(linesOf(file("log")), sl({ "started" }));
}

void tst_Cli::killedToolStopsCommand()
{
    // Nobody renews the lock once qredlock is gone: the command must not run on unprotected.
    QProcess *run = startTool(serverArgs() << "run" << "--resource" << "orphan" << "--" << "sh" << "-c"
                                           << "trap 'echo term >> log; exit 0' TERM; echo started >> log; "
                                              WaitLoop);
    QVERIFY(!waitForLine(file("log"), "started").isEmpty());
    run->kill();
    QVERIFY(run->waitForFinished(5000));
    QVERIFY(!waitForLine(file("log"), "term", 5000).isEmpty());
}

// ---- the process tree of the command ---------------------------------------------------------

void tst_Cli::terminationReachesEveryDescendantBeforeRelease()
{
    // SIGTERM to qredlock reaches the command, a grandchild in its group and a descendant
    // that left the group (setsid); the lock is released only once the last of them is gone:
    // here the grandchild, which takes a second to end after SIGTERM.
    writeScript("tree.sh", R"(echo pid $$ >> log
setsid sh -c 'echo outside $$ >> log; sleep 3; touch marker-outside' &
sh -c 'trap "sleep 1; echo grandchild-done >> log; exit 0" TERM; echo grandchild $$ >> log; sleep 3; touch marker'
echo after >> log
)");
    QProcess *run = startTool(serverArgs() << "run" << "--resource" << "tree" << "--" << "sh" << "tree.sh");
    const qint64 pid = numberIn(waitForLine(file("log"), "pid"));
    const qint64 grandchild = numberIn(waitForLine(file("log"), "grandchild"));
    const qint64 outside = numberIn(waitForLine(file("log"), "outside"));
    QVERIFY(pid > 0 && grandchild > 0 && outside > 0);
    QCOMPARE(::kill(pid_t(run->processId()), SIGTERM), 0);

    // The command itself dies at once, its grandchild lives on for a second: nobody else may
    // take the lock meanwhile.
    QVERIFY(waitGone(pid, 5000));
    const Outcome second = runTool(serverArgs() << "run" << "--resource" << "tree" << "--" << "true");
    QVERIFY2(processExists(grandchild), "the check came too late to mean anything");
    QCOMPARE(second.exitCode, 75);
    for (int i = 0; i < m_cluster.size(); ++i)
        QVERIFY(get(i, "tree").isValid());

    const Outcome o = finish(run, 10000);
    QCOMPARE(o.exitCode, 128 + SIGTERM); // the command's own status: it died by SIGTERM
    QVERIFY(!processExists(grandchild));
    QVERIFY(!processExists(outside));
    QVERIFY(linesOf(file("log")).contains(QStringLiteral("grandchild-done")));
    QVERIFY(!linesOf(file("log")).contains(QStringLiteral("after")));
    QVERIFY(!QFile::exists(file("marker")));
    QVERIFY(!QFile::exists(file("marker-outside")));
    for (int i = 0; i < m_cluster.size(); ++i)
        QVERIFY(!get(i, "tree").isValid());
    QCOMPARE(runTool(serverArgs() << "run" << "--resource" << "tree" << "--" << "true").exitCode, 0);
}

void tst_Cli::lostLockTerminatesOrphans()
{
    // A process the command started and abandoned (its parent exited, it left the group)
    // becomes qredlock's child; when the lock is lost it gets SIGTERM like the command.
    writeScript("orphan.sh", R"((setsid sh -c 'trap "echo orphan-term >> log; exit 0" TERM; echo orphan $$ >> log; WAITLOOP' &)
echo started >> log
WAITLOOP
)");
    QProcess *run = startTool(serverArgs() << "run" << "--ttl" << "1500" << "--resource" << "orphaned" << "--"
                                           << "sh" << "orphan.sh");
    QVERIFY(!waitForLine(file("log"), "started").isEmpty());
    const qint64 orphan = numberIn(waitForLine(file("log"), "orphan"));
    QVERIFY(orphan > 0);
    const qint64 adopter = parentOf(orphan); // its parent, the subshell, ended before "started"
    const qint64 tool = run->processId();

    // Deleted everywhere: the holder hears of it (client tracking) and finds the lock gone;
    // it may clear the last key itself before the last DEL gets there.
    int deleted = 0;
    for (int i = 0; i < m_cluster.size(); ++i)
        deleted += m_cluster.at(i).command({ "DEL", "orphaned" }) == QVariant(qint64(1)) ? 1 : 0;
    QVERIFY(deleted >= 2);
    const Outcome o = finish(run, 10000);
    QCOMPARE(o.exitCode, 69);
    QVERIFY2(o.err.contains("lost"), o.err.constData());
    QVERIFY(!processExists(orphan));
    QVERIFY(linesOf(file("log")).contains(QStringLiteral("orphan-term")));
    QCOMPARE(adopter, tool); // qredlock, the child subreaper, adopted the orphan
}

void tst_Cli::backgroundedWorkKeepsTheLock()
{
    // The command backgrounds its work and exits 3 at once: the lock stays held until the
    // background process ends, and the exit status is still the command's own.
    writeScript("bg.sh", R"(sh -c 'echo bg $$ >> log; WAITLOOP; echo bg-done >> log' &
echo pid $$ >> log
exit 3
)");
    QProcess *run = startTool(serverArgs() << "run" << "--resource" << "bg" << "--" << "sh" << "bg.sh");
    const qint64 pid = numberIn(waitForLine(file("log"), "pid"));
    const qint64 background = numberIn(waitForLine(file("log"), "bg"));
    QVERIFY(pid > 0 && background > 0);
    QVERIFY(waitGone(pid, 5000));

    const Outcome second = runTool(serverArgs() << "run" << "--resource" << "bg" << "--" << "true");
    QCOMPARE(second.exitCode, 75);
    QCOMPARE(run->state(), QProcess::Running);
    for (int i = 0; i < m_cluster.size(); ++i)
        QVERIFY(get(i, "bg").isValid());

    QFile(file("stop")).open(QIODevice::WriteOnly);
    const Outcome o = finish(run, 10000);
    QCOMPARE(o.exitCode, 3);
    QVERIFY(!processExists(background));
    QVERIFY(linesOf(file("log")).contains(QStringLiteral("bg-done")));
    for (int i = 0; i < m_cluster.size(); ++i)
        QVERIFY(!get(i, "bg").isValid());
}

void tst_Cli::groupSignalReachesCommandOnce()
{
    // SIGTERM to qredlock's whole process group (as a terminal or a service manager sends
    // it): the command gets it once, not once directly and once more from qredlock. The shell
    // waits with `wait`, which a trapped signal interrupts at once, so that two deliveries
    // run the trap twice instead of merging into one.
    writeScript("once.sh", R"(trap 'echo term >> log' TERM
echo started $$ >> log
i=0; while [ $i -lt 1500 ] && [ ! -e stop ]; do sleep 0.02 & wait $!; i=$((i+1)); done
)");
    QProcess *run = startToolInOwnGroup(serverArgs() << "run" << "--kill-after" << "10000" << "--resource" << "once"
                                                     << "--" << "sh" << "once.sh");
    const qint64 command = numberIn(waitForLine(file("log"), "started"));
    QVERIFY(command > 0);
    const qint64 group = run->processId();
    QCOMPARE(::getpgid(pid_t(group)), pid_t(group)); // the group is the one the test made
    const bool ownGroup = ::getpgid(pid_t(command)) != pid_t(group);
    QCOMPARE(::kill(-pid_t(group), SIGTERM), 0);
    QVERIFY(!waitForLine(file("log"), "term").isEmpty());
    QTest::qWait(500); // time for a second delivery, and for its trap
    QCOMPARE(linesOf(file("log")).count(QStringLiteral("term")), 1);

    QFile(file("stop")).open(QIODevice::WriteOnly);
    const Outcome o = finish(run, 10000);
    QCOMPARE(o.exitCode, 0); // the command ended by itself, holding the lock
    QCOMPARE(linesOf(file("log")).count(QStringLiteral("term")), 1);
    QVERIFY2(ownGroup, "the command shared qredlock's process group");
}

// ---- status and release ---------------------------------------------------------------------


QTEST_GUILESS_MAIN(tst_Cli)
#include "tst_cli.moc"
