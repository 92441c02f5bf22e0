#include "cli.h"

#include <QtCore/QCommandLineParser>
#include <QtCore/QHash>
#include <QtCore/QSet>

#include <QRedlock/LockManager>
#include <QRedlock/RedisEndpoint>

#include <cmath>

namespace QRedlockCli {

Q_LOGGING_CATEGORY(lcCli, "qredlock.cli", QtWarningMsg)

namespace {

const char Description[] = R"(Runs a command while holding a Redlock distributed lock: a flock(1) across machines.

  qredlock run     [options] --resource R -- COMMAND [ARGS...]
  qredlock status  [options] --resource R [--json]
  qredlock release [options] --resource R --token T

run      acquires the lock (renewed automatically) and runs COMMAND, in a process group of
         its own, with QREDLOCK_RESOURCE, QREDLOCK_TOKEN (and QREDLOCK_FENCING_TOKEN with
         --fencing) in its environment. Like an inherited flock(1) descriptor, the lock is
         held until COMMAND and every process it started have ended, also those it left
         in the background (qredlock is their child subreaper). SIGINT, SIGTERM and SIGHUP
         sent to qredlock are passed on once to all of them, SIGKILL follows after
         --kill-after. If the lock is lost, or cannot be renewed before its last third,
         they all get SIGTERM at once and SIGKILL after --kill-after. In the foreground of
         a terminal, COMMAND gets the terminal: Ctrl-C reaches it directly (once), Ctrl-Z
         suspends it and qredlock.
status   shows, per server, whether the key exists, its holder (shortened) and its PTTL,
         and the verdict: held (by a quorum), free, split or unknown.
release  deletes the key on every server where it still holds the given token (for
         cleaning up after a crashed holder whose QREDLOCK_TOKEN you know).)";

const char Epilog[] = R"(
Exit status:
  run      the command's own status (128+N if it died by signal N) when it, and all it
           started, ran to the end holding the lock; 75 not acquired: a quorum of servers
           answered and the lock is held elsewhere; 69 lock lost or expired while the
           command (or a process it started) ran; 126 command not executable; 127 command
           not found; 128+N when qredlock got signal N while still waiting for the lock.
  status   0 verdict held, free or split; 68 (77, 76) too few usable answers to tell.
  release  0 removed on at least one server, or absent everywhere; 65 nothing removed: the
           key is held under another token; 68 (77, 76) nothing removed and some server
           gave no usable answer.
  all      68 too few servers answered (unreachable, timed out); 77 credentials or ACL
           refused by too many servers; 76 protocol or TLS failure on too many servers;
           64 bad usage, e.g. a --ttl too short to be renewed (one line on stderr);
           70 internal error.

Environment:
  QREDLOCK_SERVERS  comma-separated server URLs, used when no --server is given.

Examples:
  export QREDLOCK_SERVERS=redis://10.0.0.1,redis://10.0.0.2,redis://10.0.0.3
  qredlock run -q --resource nightly-backup -- /usr/local/bin/backup.sh
  qredlock run --resource deploy --wait 600000 --ttl 60000 -- make deploy
  qredlock status --resource nightly-backup --json
  qredlock release --resource nightly-backup --token 3f1c0d...
)";

// A whole number of milliseconds in [minimum, INT_MAX]; digits only (an optional leading '-'
// is read so that "-5" can be reported as too small rather than as garbage).
bool parseMs(const QString &text, int minimum, int *out)
{
    bool ok = false;
    const int value = text.toInt(&ok, 10);
    if (!ok || value < minimum || text.startsWith(u'+') || text.contains(u' '))
        return false;
    *out = value;
    return true;
}

// Splits, trims and validates server URLs; returns the problem, or an empty string.
QString collectServers(const QStringList &given, const QString &origin, QStringList *out)
{
    QHash<QString, QString> seen;
    for (const QString &item : given) {
        const QStringList parts = item.split(u',', Qt::SkipEmptyParts);
        for (const QString &part : parts) {
            const QString url = part.trimmed();
            if (url.isEmpty())
                continue;
            const QRedlock::RedisEndpoint e = QRedlock::RedisEndpoint::fromString(url);
            if (!e.isValid())
                return QStringLiteral("invalid server URL in %1: %2").arg(origin, e.errorString());
            const auto it = seen.constFind(e.serverIdentity());
            if (it != seen.constEnd())
                return QStringLiteral("server %1 is listed twice in %2 (a duplicate would fake a quorum)")
                        .arg(e.toString(), origin);
            seen.insert(e.serverIdentity(), e.toString());
            out->append(url);
        }
    }
    if (out->isEmpty())
        return QStringLiteral("no Redis servers: give --server URL (repeatable) or set QREDLOCK_SERVERS");
    return QString();
}

// The shortest TTL whose lease can be renewed in time: 4 x serverTimeout plus the clock-drift
// allowance (ttl * driftFactor + 2 ms), solved for ttl. LockManager will own this formula
// (LockManager::minimumTtl(), which refuses shorter TTLs with InvalidArgument); until that is
// on main the tool computes the same from the manager's defaults. Then: setServerTimeout() on
// `defaults` below and use defaults.minimumTtl().
int minimumTtl(int serverTimeout, double driftFactor)
{
    return int(std::ceil((4.0 * serverTimeout + 2.0) / (1.0 - driftFactor)));
}

CommandLine usageError(const QString &message)
{
    CommandLine result;
    result.action = CommandLine::Action::UsageError;
    result.text = message;
    return result;
}

} // namespace

CommandLine parseCommandLine(const QStringList &arguments, const QString &environmentServers)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QString::fromUtf8(Description));
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsCompactedShortOptions);

    // names ("s,server"), help text, example, value name (none for a switch)
    const auto option = [](const char *names, const char *text, const char *example, const char *value = nullptr) {
        QCommandLineOption o(QString::fromLatin1(names).split(u','),
                             QString::fromUtf8(text) + QStringLiteral("\nExample: ") + QString::fromUtf8(example));
        if (value)
            o.setValueName(QString::fromLatin1(value));
        return o;
    };
    const QCommandLineOption server = option("s,server",
            "A Redis server (repeat for each; commas also separate). Default: $QREDLOCK_SERVERS. "
            "Use 3 or 5 independent servers.",
            "-s redis://10.0.0.1:6379 -s rediss://:secret@10.0.0.2 -s unix:///run/redis.sock", "url");
    const QCommandLineOption resource = option("resource",
            "The name of the lock (the Redis key, after --key-prefix).", "--resource nightly-backup", "name");
    const QCommandLineOption ttl = option("ttl",
            "Lease time in ms; renewed every third of it while the command runs. Default 30000. "
            "At least (4 x --server-timeout + 2) / 0.99: 1013 with the defaults.", "--ttl 60000", "ms");
    const QCommandLineOption wait = option("wait",
            "Keep trying to acquire for up to this long; 0 makes one attempt. Default 0.", "--wait 600000", "ms");
    const QCommandLineOption retryDelay = option("retry-delay",
            "Pause between attempts with --wait, randomised by +/-50%. Default 200 (+/-100).",
            "--retry-delay 500", "ms");
    const QCommandLineOption serverTimeout = option("server-timeout",
            "Deadline of one request to one server (run); status and release wait up to max(1000, 4x) "
            "for each server. Default 250.",
            "--server-timeout 1000", "ms");
    const QCommandLineOption fencing = option("fencing",
            "Also obtain a strictly increasing fencing token, passed as QREDLOCK_FENCING_TOKEN.", "--fencing");
    const QCommandLineOption killAfter = option("kill-after",
            "When the lock is lost, or qredlock gets SIGTERM, SIGINT or SIGHUP: grace between that signal "
            "to the command's processes and SIGKILL to those left. Default 5000.",
            "--kill-after 10000", "ms");
    const QCommandLineOption keyPrefix = option("key-prefix",
            "Prepended to the resource to form the Redis key. Default: none.", "--key-prefix locks:", "prefix");
    const QCommandLineOption token = option("token", "release: the holder's token (its QREDLOCK_TOKEN).",
            "release --resource nightly-backup --token 3f1c0d...", "token");
    const QCommandLineOption json = option("json", "status: print one JSON object instead of text.",
            "status --resource nightly-backup --json");
    const QCommandLineOption verbose = option("v,verbose",
            "Debug output of qredlock and the library (logging categories qredlock.*).", "-v");
    const QCommandLineOption quiet = option("q,quiet",
            "No messages from qredlock itself except usage errors (the command's output is untouched).", "-q");
    const QCommandLineOption help = option("h,help", "Show this help.", "--help");
    const QCommandLineOption version = option("version", "Show the version.", "--version");

    const QList<QCommandLineOption> all { server, resource, ttl, wait, retryDelay, serverTimeout, fencing,
                                          killAfter, keyPrefix, token, json, verbose, quiet, help, version };
    parser.addOptions(all);
    parser.addPositionalArgument(QStringLiteral("subcommand"), QStringLiteral("run, status or release"),
                                 QStringLiteral("run|status|release [-- COMMAND [ARGS...]]"));

    // Everything after the first "--" that is not an option's value is the command to run;
    // the parser never sees it, so the command's own options stay the command's.
    QSet<QString> takesValue;
    for (const QCommandLineOption &o : all) {
        if (o.valueName().isEmpty())
            continue;
        for (const QString &name : o.names())
            takesValue.insert(QString((name.size() == 1 ? QStringLiteral("-") : QStringLiteral("--")) + name));
    }
    qsizetype separator = -1;
    for (qsizetype i = 1; i < arguments.size(); ++i) {
        if (arguments.at(i) == QLatin1String("--")) {
            separator = i;
            break;
        }
        if (takesValue.contains(arguments.at(i)))
            ++i;
    }
    const QStringList options = separator < 0 ? arguments : arguments.mid(0, separator);
    if (!parser.parse(options))
        return usageError(parser.errorText());

    CommandLine result;
    if (parser.isSet(help)) {
        result.action = CommandLine::Action::ShowHelp;
        result.text = parser.helpText() + QString::fromUtf8(Epilog);
        return result;
    }
    if (parser.isSet(version)) {
        result.action = CommandLine::Action::ShowVersion;
        return result;
    }

    Settings &s = result.settings;
    const QStringList positional = parser.positionalArguments();
    if (positional.isEmpty())
        return usageError(QStringLiteral("missing subcommand: expected run, status or release (see --help)"));
    const QString name = positional.first();
    if (name == QLatin1String("run"))
        s.subcommand = Subcommand::Run;
    else if (name == QLatin1String("status"))
        s.subcommand = Subcommand::Status;
    else if (name == QLatin1String("release"))
        s.subcommand = Subcommand::Release;
    else
        return usageError(QStringLiteral("unknown subcommand '%1': expected run, status or release").arg(name));
    if (positional.size() > 1) {
        return usageError(QStringLiteral("unexpected argument '%1'%2").arg(positional.at(1),
                s.subcommand == Subcommand::Run ? QStringLiteral(": put the command after '--'") : QString()));
    }

    if (s.subcommand == Subcommand::Run) {
        if (separator < 0 || separator + 1 >= arguments.size())
            return usageError(QStringLiteral("missing command after '--' (qredlock run [options] --resource R -- COMMAND [ARGS...])"));
        s.command = arguments.mid(separator + 1);
    } else if (separator >= 0) {
        return usageError(QStringLiteral("'%1' takes no command after '--'").arg(name));
    }
    if (parser.isSet(json) && s.subcommand != Subcommand::Status)
        return usageError(QStringLiteral("--json is only valid with 'status'"));
    if (parser.isSet(token) && s.subcommand != Subcommand::Release)
        return usageError(QStringLiteral("--token is only valid with 'release'"));

    s.verbose = parser.isSet(verbose);
    s.quiet = parser.isSet(quiet);
    if (s.verbose && s.quiet)
        return usageError(QStringLiteral("--verbose and --quiet exclude each other"));
    s.json = parser.isSet(json);
    s.fencing = parser.isSet(fencing);

    struct Number { const QCommandLineOption &option; int *target; int minimum; const char *expected; };
    const Number numbers[] = {
        { ttl, &s.ttl, 1, "a positive number of milliseconds" },
        { wait, &s.wait, 0, "0 or more milliseconds" },
        { retryDelay, &s.retryDelay, 0, "0 or more milliseconds" },
        { serverTimeout, &s.serverTimeout, 1, "a positive number of milliseconds" },
        { killAfter, &s.killAfter, 0, "0 or more milliseconds" },
    };
    for (const Number &n : numbers) {
        if (!parser.isSet(n.option))
            continue;
        const QString value = parser.value(n.option);
        if (!parseMs(value, n.minimum, n.target))
            return usageError(QStringLiteral("--%1 must be %2, got '%3'")
                                      .arg(n.option.names().constLast(), QLatin1String(n.expected), value));
    }
    if (s.subcommand == Subcommand::Run) { // status and release ignore --ttl
        const QRedlock::LockManager defaults;
        const int serverTimeout = s.serverTimeout > 0 ? s.serverTimeout : defaults.serverTimeout();
        const int minimum = minimumTtl(serverTimeout, defaults.driftFactor());
        if (s.ttl < minimum) {
            return usageError(QStringLiteral("--ttl %1 ms is too short to be renewed in time: at least %2 ms with "
                                             "--server-timeout %3").arg(s.ttl).arg(minimum).arg(serverTimeout));
        }
    }

    if (!parser.isSet(resource))
        return usageError(QStringLiteral("missing --resource (the name of the lock)"));
    s.resource = parser.value(resource);
    if (s.resource.isEmpty())
        return usageError(QStringLiteral("empty resource name (--resource)"));
    s.keyPrefix = parser.value(keyPrefix);

    if (s.subcommand == Subcommand::Release) {
        if (!parser.isSet(token))
            return usageError(QStringLiteral("missing --token (the holder's QREDLOCK_TOKEN) for 'release'"));
        s.token = parser.value(token).toUtf8();
        if (s.token.isEmpty())
            return usageError(QStringLiteral("empty --token"));
    }

    const QString problem = parser.isSet(server)
            ? collectServers(parser.values(server), QStringLiteral("--server"), &s.servers)
            : collectServers({ environmentServers }, QStringLiteral("QREDLOCK_SERVERS"), &s.servers);
    if (!problem.isEmpty())
        return usageError(problem);

    result.action = CommandLine::Action::Proceed;
    return result;
}

} // namespace QRedlockCli
