// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The qredlock command line, read in-process from the tool's own sources: every option's
// value rules, durations with every unit and the typos around them, which options go with
// which subcommand, and that --help, `SUBCOMMAND --help`, the man page and the bash
// completion all come from one table.

#include "cli.h"
#include "duration.h"
#include "options.h"

#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTest>

using namespace QRedlockCli;

namespace {

QStringList args(const char *line)
{
    QStringList out { QStringLiteral("qredlock") };
    const QStringList words = QString::fromUtf8(line).split(u' ', Qt::SkipEmptyParts);
    for (const QString &w : words)
        out << (w == QLatin1String("''") ? QString() : w);
    return out;
}

CommandLine parse(const char *line)
{
    return parseCommandLine(args(line), QStringLiteral("redis://127.0.0.1:1"));
}

} // namespace

class tst_CliArgs : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void durations_data();
    void durations();
    void settings_data();
    void settings();
    void usageErrors_data();
    void usageErrors();
    void subcommandHelpShowsOnlyItsOptions_data();
    void subcommandHelpShowsOnlyItsOptions();
    void manPageAndCompletionCoverEveryOption();
    void manPageRenders();
    void cliDocumentShowsTheCurrentHelp();
};

void tst_CliArgs::durations_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<qint64>("bareUnit");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<qint64>("ms");
    QTest::addColumn<QString>("error");

    const auto ok = [](const char *name, const char *text, qint64 bare, qint64 ms) {
        QTest::newRow(name) << QString::fromUtf8(text) << bare << true << ms << QString();
    };
    const auto bad = [](const char *name, const char *text, const char *error) {
        QTest::newRow(name) << QString::fromUtf8(text) << qint64(1) << false << qint64(0) << QString::fromUtf8(error);
    };
    ok("bare ms", "1500", 1, 1500);
    ok("zero", "0", 1, 0);
    ok("ms", "1500ms", 1, 1500);
    ok("s", "30s", 1, 30000);
    ok("fractional s", "1.5s", 1, 1500);
    ok("leading point", ".25s", 1, 250);
    ok("m", "5m", 1, 300000);
    ok("h", "1h", 1, 3600000);
    ok("d", "2d", 1, 2 * 86400000LL);
    ok("fractional h", "1.5h", 1, 5400000);
    ok("rounds to ms", "0.0004s", 1, 0);
    ok("rounds up", "1.0006s", 1, 1001);
    ok("bare seconds (flock -w)", "2.5", 1000, 2500);
    ok("unit beats bare seconds", "500ms", 1000, 500);
    ok("negative is read", "-5", 1, -5);
    ok("ten years", "3650d", 1, 3650 * 86400000LL);
    bad("empty", "", "an empty duration");
    bad("unit only", "s", "'s' is not a duration");
    bad("minus only", "-", "'-' is not a duration");
    bad("word", "soon", "'soon' is not a duration");
    bad("sec", "10sec", "unknown unit 'sec' in '10sec'");
    bad("upper S", "10S", "unknown unit 'S' in '10S'");
    bad("min", "5min", "unknown unit 'min' in '5min'");
    bad("us", "10us", "unknown unit 'us' in '10us'");
    bad("space", "10 s", "unknown unit ' s' in '10 s'");
    bad("exponent", "1e3", "unknown unit 'e3' in '1e3'");
    bad("two points", "1.5.5s", "unknown unit '.5s'");
    bad("plus", "+5s", "'+5s' is not a duration");
    bad("too long", "3700d", "'3700d' is too long");
    bad("absurd", "99999999999999999999d", "is too long");
}

void tst_CliArgs::durations()
{
    QFETCH(QString, text);
    QFETCH(qint64, bareUnit);
    QFETCH(bool, ok);
    QFETCH(qint64, ms);
    QFETCH(QString, error);
    const Duration d = Duration::parse(text, bareUnit);
    QCOMPARE(d.ok, ok);
    if (ok) {
        QCOMPARE(d.ms, ms);
        QVERIFY(d.error.isEmpty());
    } else {
        QVERIFY2(d.error.contains(error), qPrintable(d.error));
    }
}

void tst_CliArgs::settings_data()
{
    QTest::addColumn<QString>("line");
    QTest::addColumn<QString>("field");
    QTest::addColumn<qint64>("expected");

    const auto row = [](const char *line, const char *field, qint64 expected) {
        QTest::newRow(line) << QString::fromUtf8(line) << QString::fromUtf8(field) << expected;
    };
    row("run --resource r -- true", "wait", 0);
    row("run --resource r -- true", "conflictExitCode", 75);
    row("run --resource r -n -- true", "wait", 0);
    row("run --resource r -w 2.5 -- true", "wait", 2500);
    row("run --resource r --timeout 3 -- true", "wait", 3000);
    row("run --resource r -w 750ms -- true", "wait", 750);
    row("run --resource r --wait 1500 -- true", "wait", 1500);
    row("run --resource r --wait 10m -- true", "wait", 600000);
    row("run --resource r --ttl 1m -- true", "ttl", 60000);
    row("run --resource r --ttl 45000 -- true", "ttl", 45000);
    row("run --resource r --retry-delay 0.5s -- true", "retryDelay", 500);
    row("run --resource r --server-timeout 1s -- true", "serverTimeout", 1000);
    row("run --resource r --kill-after 10s -- true", "killAfter", 10000);
    row("run --resource r -E 0 -- true", "conflictExitCode", 0);
    row("run --resource r --conflict-exit-code 255 -- true", "conflictExitCode", 255);
    row("run --resource r --lock-at-least-for 30s -- true", "lockAtLeastFor", 30000);
    row("run -nE 3 --resource r -- true", "conflictExitCode", 3);
    row("schedule --resource r --cron @daily -- true", "lockAtMostFor", 3600000);
    row("schedule --resource r --cron @daily --lock-at-most-for 2h -- true", "lockAtMostFor", 7200000);
    row("schedule --resource r --cron @daily --misfire-grace 6h -- true", "misfireGrace", 6 * 3600000);
    row("schedule --resource r --cron @daily --misfire skip -- true", "misfireSkip", 1);
    row("schedule --resource r --cron @daily --misfire run-once -- true", "misfireSkip", 0);
    row("status --job r", "job", 1);
    row("status --resource r", "job", 0);
}

void tst_CliArgs::settings()
{
    QFETCH(QString, line);
    QFETCH(QString, field);
    QFETCH(qint64, expected);
    const CommandLine c = parse(line.toUtf8().constData());
    QVERIFY2(c.action == CommandLine::Action::Proceed, qPrintable(c.text));
    const Settings &s = c.settings;
    const QHash<QString, qint64> values {
        { QStringLiteral("wait"), s.wait }, { QStringLiteral("ttl"), s.ttl },
        { QStringLiteral("retryDelay"), s.retryDelay }, { QStringLiteral("serverTimeout"), s.serverTimeout },
        { QStringLiteral("killAfter"), s.killAfter }, { QStringLiteral("conflictExitCode"), s.conflictExitCode },
        { QStringLiteral("lockAtLeastFor"), s.lockAtLeastFor }, { QStringLiteral("lockAtMostFor"), s.lockAtMostFor },
        { QStringLiteral("misfireGrace"), s.misfireGrace }, { QStringLiteral("misfireSkip"), s.misfireSkip },
        { QStringLiteral("job"), s.job },
    };
    QVERIFY2(values.contains(field), qPrintable(field));
    QCOMPARE(values.value(field), expected);
}

void tst_CliArgs::usageErrors_data()
{
    QTest::addColumn<QString>("line");
    QTest::addColumn<QString>("message");
    const auto row = [](const char *line, const char *message) {
        QTest::newRow(line) << QString::fromUtf8(line) << QString::fromUtf8(message);
    };
    row("run --resource r --ttl 10sec -- true", "--ttl: unknown unit 'sec' in '10sec' (use ms, s, m, h or d)");
    row("run --resource r --ttl 30S -- true", "--ttl: unknown unit 'S' in '30S'");
    row("run --resource r --wait 5 min -- true", "unexpected argument 'min'");
    row("run --resource r --wait 5mins -- true", "--wait: unknown unit 'mins' in '5mins'");
    row("run --resource r -w 2x -- true", "--timeout: unknown unit 'x' in '2x'");
    row("run --resource r -w -1 -- true", "--timeout must be 0 or a positive number of seconds, got '-1'");
    row("run --resource r --kill-after 1e3 -- true", "--kill-after: unknown unit 'e3'");
    row("run --resource r --ttl 30d -- true", "--ttl: '30d' is too long (at most 24 days)");
    row("run --resource r --ttl 500ms -- true", "--ttl 500 ms is too short to be renewed in time: at least 1013 ms");
    row("run --resource r --lock-at-least-for 10x -- true", "--lock-at-least-for: unknown unit 'x'");
    row("run --resource r -n -w 3 -- true", "--nonblock makes one attempt: it excludes --wait and --timeout");
    row("run --resource r -n --wait 3 -- true", "--nonblock makes one attempt");
    row("run --resource r -w 3 --wait 3000 -- true", "--wait and --timeout say the same: give one");
    row("run --resource r -E 256 -- true", "--conflict-exit-code must be a number from 0 to 255, got '256'");
    row("run --resource r -E -1 -- true", "--conflict-exit-code must be a number from 0 to 255, got '-1'");
    row("run --resource r -E x -- true", "--conflict-exit-code must be a number from 0 to 255, got 'x'");
    row("run --resource r --cron @daily -- true", "--cron is only valid with 'schedule'");
    row("run --resource r --lock-at-most-for 1h -- true", "--lock-at-most-for is only valid with 'schedule'");
    row("status --resource r -w 3", "--timeout is only valid with 'run'");
    row("status --resource r --ttl 5s", "--ttl is only valid with 'run'");
    row("schedule --resource r --cron @daily --ttl 5s -- true", "--ttl is only valid with 'run'");
    row("run --resource r --kill-after 1s --misfire skip -- true", "--misfire is only valid with 'schedule'");
    row("status --resource r --token t", "--token is only valid with 'release'");
    row("release --resource r --token t --json", "--json is only valid with 'status'");
    row("run --job r -- true", "--job is only valid with 'status'");
    row("status --job r --resource r", "give --job or --resource, not both");
    row("status --job ''", "empty resource name (--job)");
    row("schedule --resource r -- true", "missing --cron");
    row("schedule --resource r --cron '' -- true", "empty --cron expression");
    row("schedule --resource r --cron 0/0 -- true", "--cron '0/0': ");
    row("schedule --resource r --cron @fortnightly -- true", "--cron '@fortnightly': ");
    row("schedule --resource r --cron @daily", "missing command after '--'");
    row("schedule --resource r --cron @daily true", "unexpected argument 'true': put the command after '--'");
    row("schedule --resource r --cron @daily --tz Mars/Olympus -- true", "--tz: unknown time zone 'Mars/Olympus'");
    row("schedule --resource r --cron @daily --misfire later -- true", "--misfire must be skip or run-once, got 'later'");
    row("schedule --resource r --cron @daily --lock-at-most-for 0 -- true", "--lock-at-most-for must be a positive duration");
    row("schedule --resource r --cron @daily --misfire-grace 1y -- true", "--misfire-grace: unknown unit 'y'");
    row("lock --resource r", "unknown subcommand 'lock': expected run, schedule, status or release");
}

void tst_CliArgs::usageErrors()
{
    QFETCH(QString, line);
    QFETCH(QString, message);
    const CommandLine c = parse(line.toUtf8().constData());
    QCOMPARE(int(c.action), int(CommandLine::Action::UsageError));
    QVERIFY2(c.text.contains(message), qPrintable(c.text));
    QVERIFY2(!c.text.contains(u'\n'), qPrintable(c.text));
}

void tst_CliArgs::subcommandHelpShowsOnlyItsOptions_data()
{
    QTest::addColumn<QString>("subcommand");
    for (const SubcommandSpec &c : subcommandTable())
        QTest::newRow(c.name) << QString::fromLatin1(c.name);
}

void tst_CliArgs::subcommandHelpShowsOnlyItsOptions()
{
    QFETCH(QString, subcommand);
    const CommandLine c = parseCommandLine({ QStringLiteral("qredlock"), subcommand, QStringLiteral("--help") }, QString());
    QCOMPARE(int(c.action), int(CommandLine::Action::ShowHelp));
    const SubcommandSpec *spec = findSubcommand(subcommand);
    QVERIFY(spec);
    QVERIFY2(c.text.startsWith(QStringLiteral("Usage: qredlock ") + QLatin1String(spec->synopsis)), qPrintable(c.text));
    for (const OptionSpec &o : optionTable()) {
        const bool belongs = o.subcommands & (1u << int(spec->subcommand));
        const bool shown = c.text.contains(QStringLiteral("\n  ") + o.display() + u'\n');
        QVERIFY2(belongs == shown, qPrintable(subcommand + u' ' + o.longName()));
    }
    // Its own exit status, not the others'.
    for (const SubcommandSpec &other : subcommandTable()) {
        const bool shown = c.text.contains(QStringLiteral("\n  ") + QLatin1String(other.name) + QStringLiteral(":\n"));
        QCOMPARE(shown, &other == spec);
    }
}

void tst_CliArgs::manPageAndCompletionCoverEveryOption()
{
    const CommandLine man = parse("--generate-man");
    QCOMPARE(int(man.action), int(CommandLine::Action::Print));
    const CommandLine completion = parse("--generate-bash-completion");
    QCOMPARE(int(completion.action), int(CommandLine::Action::Print));
    QVERIFY(man.text.startsWith(QStringLiteral(".TH QREDLOCK 1")));
    for (const OptionSpec &o : optionTable()) {
        const QString roffName = QStringLiteral("\\-\\-") + QString(o.longName()).replace(u'-', QStringLiteral("\\-"));
        QVERIFY2(man.text.contains(QStringLiteral(".B ") + (o.shortName().isEmpty() ? QString() : QStringLiteral("\\-") + o.shortName() + QStringLiteral(", "))
                                   + roffName), qPrintable(o.longName()));
        QVERIFY2(completion.text.contains(QStringLiteral("--") + o.longName()), qPrintable(o.longName()));
    }
    for (const SubcommandSpec &c : subcommandTable()) {
        QVERIFY2(man.text.contains(QStringLiteral(".B ") + QLatin1String(c.name) + u'\n'), c.name);
        QVERIFY2(completion.text.contains(QStringLiteral("        ") + QLatin1String(c.name) + QStringLiteral(") opts=")), c.name);
    }
    // The help's exit codes are the man page's.
    for (const char *code : { "64", "65", "68", "69", "70", "75", "76", "77" })
        QVERIFY2(man.text.contains(QLatin1String(code)), code);
}

void tst_CliArgs::manPageRenders()
{
    // The page the build wrote (and installs) is the one the tool prints, and man(1) renders
    // it without a warning.
    QFile built(QStringLiteral(QREDLOCK_MAN_PAGE));
    QVERIFY2(built.open(QIODevice::ReadOnly), QREDLOCK_MAN_PAGE);
    QCOMPARE(QString::fromUtf8(built.readAll()), parse("--generate-man").text);
    QProcess groff;
    groff.start(QStringLiteral("groff"), { QStringLiteral("-ww"), QStringLiteral("-man"), QStringLiteral("-z"),
                                           QStringLiteral(QREDLOCK_MAN_PAGE) });
    QVERIFY2(groff.waitForFinished(20000), "groff did not finish");
    QCOMPARE(groff.exitCode(), 0);
    QVERIFY2(groff.readAllStandardError().isEmpty(), "groff warned");
}

void tst_CliArgs::cliDocumentShowsTheCurrentHelp()
{
    // docs/cli.md ends with `qredlock --help` verbatim: a changed option fails here until the
    // page is updated (build/tools/qredlock/qredlock --help).
    QFile page(QStringLiteral(QREDLOCK_CLI_DOC));
    QVERIFY2(page.open(QIODevice::ReadOnly), QREDLOCK_CLI_DOC);
    const QString text = QString::fromUtf8(page.readAll());
    const QString marker = QStringLiteral("## Reference: `qredlock --help`\n\n```\n");
    const qsizetype at = text.indexOf(marker);
    QVERIFY2(at >= 0, "no reference section in docs/cli.md");
    const QString block = text.mid(at + marker.size());
    QCOMPARE(block.left(block.lastIndexOf(QStringLiteral("```"))), parse("--help").text);
}

QTEST_GUILESS_MAIN(tst_CliArgs)
#include "tst_cliargs.moc"
