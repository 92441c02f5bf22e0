// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "options.h"

#include <QtCore/QStringList>

namespace QRedlockCli {

namespace {

const char Overview[] =
        "Runs a command while holding a Redlock distributed lock: a flock(1) across machines, "
        "over 3 or 5 independent Redis servers. Also runs a command once per cron occurrence on "
        "exactly one of many machines, and shows or removes a lock by hand.";

const char EnvironmentText[] =
        "QREDLOCK_SERVERS  comma-separated server URLs, used when no --server is given.";

const char CommonExitStatus[] =
        "68 too few servers answered (unreachable, timed out) to decide; 77 credentials or ACL refused "
        "by too many servers; 76 protocol or TLS failure on too many servers; 64 bad usage, e.g. a --ttl "
        "too short to be renewed (one line on stderr); 70 internal error.";

const char ExamplesText[] =
        "export QREDLOCK_SERVERS=redis://10.0.0.1,redis://10.0.0.2,redis://10.0.0.3\n"
        "qredlock run -q --resource nightly-backup -- /usr/local/bin/backup.sh\n"
        "qredlock run --resource deploy -w 600 --ttl 1m -- make deploy\n"
        "qredlock schedule --resource report --cron '0 2 * * *' --tz Europe/Berlin -- ./report.sh\n"
        "qredlock status --resource nightly-backup --json\n"
        "qredlock release --resource nightly-backup --token 3f1c0d...";

const QList<SubcommandSpec> Subcommands = {
    { Subcommand::Run, "run", "run [options] --resource R -- COMMAND [ARGS...]",
      "Acquires the lock (renewed automatically) and runs COMMAND, in a process group of its own, with "
      "QREDLOCK_RESOURCE, QREDLOCK_TOKEN (and QREDLOCK_FENCING_TOKEN with --fencing) in its environment. "
      "Like an inherited flock(1) descriptor, the lock is held until COMMAND and every process it started "
      "have ended, also those it left in the background (qredlock is their child subreaper). SIGINT, "
      "SIGTERM and SIGHUP sent to qredlock are passed on once to all of them, SIGKILL follows after "
      "--kill-after. If the lock is lost, or cannot be renewed before its last third, they all get SIGTERM "
      "at once and SIGKILL after --kill-after. In the foreground of a terminal, COMMAND gets the terminal: "
      "Ctrl-C reaches it directly (once), Ctrl-Z suspends it and qredlock. By default one attempt is made "
      "(-n); -w or --wait keep trying.",
      "The command's own status (128+N if it died by signal N) when it, and all it started, ran to the "
      "end holding the lock; 75 (or -E N) not acquired: a quorum of servers answered and the lock is held "
      "elsewhere; 69 lock lost or expired while the command (or a process it started) ran; 126 command not "
      "executable; 127 command not found; 128+N when qredlock got signal N while still waiting for the lock." },
    { Subcommand::Schedule, "schedule", "schedule [options] --resource R --cron EXPR [--tz ZONE] -- COMMAND [ARGS...]",
      "A distributed cron: started on every machine (for example as a systemd service), it runs COMMAND "
      "once per occurrence of the cron expression on exactly one of them. Each occurrence has a lock key "
      "of its own; the instance that takes it runs COMMAND under the same process-tree rules as run, "
      "with QREDLOCK_RESOURCE, QREDLOCK_TOKEN, QREDLOCK_OCCURRENCE (ISO 8601, UTC, with ms) and "
      "QREDLOCK_OCCURRENCE_MS (ms since the epoch) in its environment, and writes the job record that "
      "`status --job` shows. One line per occurrence tells whether it ran here (duration, exit status), "
      "was skipped (and who holds it) or failed. SIGTERM stops it: a running COMMAND is terminated and the "
      "record says cancelled.",
      "0 after SIGTERM, SIGINT or SIGHUP; 64 bad usage (an invalid cron expression or time zone)." },
    { Subcommand::Status, "status", "status [options] (--resource R | --job R) [--json]",
      "Shows, per server, whether the key exists, its holder and its PTTL, and the verdict: held (by a "
      "quorum), free, split or unknown. With --job, shows the job record of a scheduled job instead: the "
      "last occurrence, who ran it, how it ended, and the next occurrence.",
      "0 verdict held, free or split (with --job: a record was read, or there is none); 68 (77, 76) too "
      "few usable answers to tell." },
    { Subcommand::Release, "release", "release [options] --resource R --token T",
      "Deletes the key on every server where it still holds the given token (for cleaning up after a "
      "crashed holder whose QREDLOCK_TOKEN you know).",
      "0 removed on at least one server, or absent everywhere; 65 nothing removed: the key is held under "
      "another token; 68 (77, 76) nothing removed and some server gave no usable answer." },
};

const QList<OptionSpec> Options = {
    { "s,server", "url", InAll,
      "A Redis server (repeat for each; commas also separate). Default: $QREDLOCK_SERVERS. Use 3 or 5 "
      "independent servers.",
      "-s redis://10.0.0.1:6379 -s rediss://:secret@10.0.0.2 -s unix:///run/redis.sock" },
    { "resource", "name", InAll, "The name of the lock (the Redis key, after --key-prefix).",
      "--resource nightly-backup" },
    { "ttl", "duration", InRun,
      "Lease time; renewed every third of it while the command runs. Default 30s. At least "
      "(4 x --server-timeout + 2) / 0.99: 1013ms with the defaults.",
      "--ttl 60s" },
    { "n,nonblock", nullptr, InRun, "Make one attempt and give up if the lock is held (the default).", "-n" },
    { "w,timeout", "seconds", InRun,
      "Keep trying to acquire for up to this many seconds (fractions allowed, as flock(1); a unit such as "
      "500ms or 5m also works).",
      "-w 2.5" },
    { "wait", "duration", InRun, "Keep trying to acquire for up to this long; 0 makes one attempt. Default 0.",
      "--wait 10m" },
    { "retry-delay", "duration", InRun,
      "Pause between attempts with --wait or -w, randomised by +/-50%. Default 200ms (+/-100ms).",
      "--retry-delay 500ms" },
    { "E,conflict-exit-code", "code", InRun,
      "The exit status when the lock is held elsewhere (0-255). Default 75.", "-E 0" },
    { "cron", "expression", InSchedule,
      "When to run: five cron fields (minute hour day-of-month month day-of-week), six with a leading "
      "seconds field, or @hourly, @daily, @weekly, @monthly, @yearly.",
      "--cron '30 2 * * MON-FRI'" },
    { "tz", "zone", InSchedule, "The time zone of --cron, an IANA id. Default: the system's.",
      "--tz Europe/Berlin" },
    { "misfire", "policy", InSchedule,
      "An occurrence that every instance missed (all were down) within --misfire-grace: run-once runs it "
      "once, late (the default); skip waits for the next.",
      "--misfire skip" },
    { "misfire-grace", "duration", InSchedule, "How late a missed occurrence may still run. Default 1h.",
      "--misfire-grace 6h" },
    { "lock-at-most-for", "duration", InSchedule,
      "The lease of an occurrence's lock (renewed while the command runs) and the longest a run may last: "
      "the command is then stopped (SIGTERM, SIGKILL after --kill-after) and the record says cancelled. "
      "Default 1h.",
      "--lock-at-most-for 2h" },
    { "lock-at-least-for", "duration", InRun | InSchedule,
      "Keep the lock at least this long after the command started, also when it ended sooner, so that "
      "the same job started a little later elsewhere (a clock behind, a slow timer) skips instead of "
      "running again. Default 0.",
      "--lock-at-least-for 30s" },
    { "server-timeout", "duration", InAll,
      "Deadline of one request to one server (run, schedule); status and release wait up to max(1s, 4x) "
      "for each server. Default 250ms.",
      "--server-timeout 1s" },
    { "fencing", nullptr, InRun | InSchedule,
      "Also obtain a strictly increasing fencing token, passed as QREDLOCK_FENCING_TOKEN.", "--fencing" },
    { "kill-after", "duration", InRun | InSchedule,
      "When the lock is lost, or qredlock gets SIGTERM, SIGINT or SIGHUP: grace between that signal to "
      "the command's processes and SIGKILL to those left. Default 5s.",
      "--kill-after 10s" },
    { "key-prefix", "prefix", InAll, "Prepended to the resource to form the Redis key. Default: none.",
      "--key-prefix locks:" },
    { "job", "name", InStatus, "Show the job record of the scheduled job R (instead of --resource R).",
      "status --job nightly-report" },
    { "token", "token", InRelease, "The holder's token (its QREDLOCK_TOKEN).",
      "release --resource nightly-backup --token 3f1c0d..." },
    { "json", nullptr, InStatus, "Print one JSON object instead of text.", "status --resource nightly-backup --json" },
    { "v,verbose", nullptr, InAll, "Debug output of qredlock and the library (logging categories qredlock.*).",
      "-v" },
    { "q,quiet", nullptr, InAll,
      "No messages from qredlock itself except usage errors (the command's output is untouched).", "-q" },
    { "h,help", nullptr, InAll, "Show this help (with a subcommand: the help of that subcommand).",
      "run --help" },
    { "version", nullptr, InAll, "Show the version.", "--version" },
};

// Word-wraps text to width columns, each line indented by indent spaces.
QString wrap(const QString &text, int indent, int width = 96)
{
    const QString pad(indent, u' ');
    QString out, line;
    const QStringList words = text.split(u' ', Qt::SkipEmptyParts);
    for (const QString &word : words) {
        if (!line.isEmpty() && indent + line.size() + 1 + word.size() > width) {
            out += pad + line + u'\n';
            line.clear();
        }
        line += (line.isEmpty() ? QString() : QStringLiteral(" ")) + word;
    }
    if (!line.isEmpty())
        out += pad + line + u'\n';
    return out;
}

QString indentLines(const QString &text, int indent)
{
    QString out;
    const QStringList lines = text.split(u'\n');
    for (const QString &l : lines)
        out += QString(indent, u' ') + l + u'\n';
    return out;
}

// roff: backslashes doubled, hyphens made real minus signs, a leading '.' or '\'' escaped.
QString roff(const QString &text)
{
    QString s = text;
    s.replace(u'\\', QStringLiteral("\\e"));
    s.replace(u'-', QStringLiteral("\\-"));
    if (s.startsWith(u'.') || s.startsWith(u'\''))
        s.prepend(QStringLiteral("\\&"));
    return s;
}

QString subcommandList()
{
    QStringList names;
    for (const SubcommandSpec &c : Subcommands)
        names << QString::fromLatin1(c.name);
    return names.join(u' ');
}

} // namespace

QString OptionSpec::longName() const
{
    const QStringList n = QString::fromLatin1(names).split(u',');
    return n.constLast();
}

QString OptionSpec::shortName() const
{
    const QStringList n = QString::fromLatin1(names).split(u',');
    return n.size() > 1 ? n.constFirst() : QString();
}

QString OptionSpec::display() const
{
    QString s = shortName().isEmpty() ? QString() : u'-' + shortName() + QStringLiteral(", ");
    s += QStringLiteral("--") + longName();
    if (valueName)
        s += QStringLiteral(" <") + QLatin1String(valueName) + u'>';
    return s;
}

const QList<OptionSpec> &optionTable() { return Options; }
const QList<SubcommandSpec> &subcommandTable() { return Subcommands; }

const SubcommandSpec *findSubcommand(const QString &name)
{
    for (const SubcommandSpec &c : Subcommands) {
        if (name == QLatin1String(c.name))
            return &c;
    }
    return nullptr;
}

QString helpText(const SubcommandSpec *only)
{
    QString out;
    if (only) {
        out += QStringLiteral("Usage: qredlock ") + QLatin1String(only->synopsis) + QStringLiteral("\n\n");
        out += wrap(QString::fromUtf8(only->description), 0) + u'\n';
    } else {
        out += QStringLiteral("Usage:\n");
        for (const SubcommandSpec &c : Subcommands)
            out += QStringLiteral("  qredlock ") + QLatin1String(c.synopsis) + u'\n';
        out += u'\n' + wrap(QString::fromUtf8(Overview), 0) + u'\n';
        for (const SubcommandSpec &c : Subcommands)
            out += QLatin1String(c.name) + QStringLiteral(":\n") + wrap(QString::fromUtf8(c.description), 2) + u'\n';
    }
    out += QStringLiteral("Options:\n");
    const unsigned mask = only ? 1u << int(only->subcommand) : unsigned(InAll);
    for (const OptionSpec &o : Options) {
        if (!(o.subcommands & mask))
            continue;
        out += QStringLiteral("  ") + o.display() + u'\n';
        QString help = QString::fromUtf8(o.help);
        if (!only && o.subcommands != InAll) {
            QStringList where;
            for (const SubcommandSpec &c : Subcommands) {
                if (o.subcommands & (1u << int(c.subcommand)))
                    where << QString::fromLatin1(c.name);
            }
            help = u'(' + where.join(QStringLiteral(", ")) + QStringLiteral(") ") + help;
        }
        out += wrap(help, 6);
        out += QStringLiteral("      Example: ") + QString::fromUtf8(o.example) + u'\n';
    }
    out += QStringLiteral("\nExit status:\n");
    for (const SubcommandSpec &c : Subcommands) {
        if (only && &c != only)
            continue;
        out += QStringLiteral("  ") + QLatin1String(c.name) + QStringLiteral(":\n")
                + wrap(QString::fromUtf8(c.exitStatus), 4);
    }
    out += QStringLiteral("  all:\n") + wrap(QString::fromUtf8(CommonExitStatus), 4);
    out += QStringLiteral("\nEnvironment:\n") + indentLines(QString::fromUtf8(EnvironmentText), 2);
    QString examples = QString::fromUtf8(ExamplesText);
    if (only) { // the set-up line and this subcommand's own examples
        QStringList kept;
        const QStringList lines = examples.split(u'\n');
        for (const QString &l : lines) {
            if (!l.startsWith(QLatin1String("qredlock ")) || l.startsWith(QStringLiteral("qredlock ") + QLatin1String(only->name) + u' '))
                kept << l;
        }
        examples = kept.join(u'\n');
    }
    out += QStringLiteral("\nExamples:\n") + indentLines(examples, 2);
    out += QStringLiteral("\nDurations: a number with a unit, ms, s, m, h or d (1500ms, 30s, 1.5h); a bare number is "
                          "milliseconds (seconds for -w).\n");
    return out;
}

QString manPage(const QString &version)
{
    QString m;
    m += QStringLiteral(".TH QREDLOCK 1 \"\" \"qredlock ") + version + QStringLiteral("\" \"User Commands\"\n");
    m += QStringLiteral(".SH NAME\nqredlock \\- run a command under a Redlock distributed lock\n");
    m += QStringLiteral(".SH SYNOPSIS\n");
    for (const SubcommandSpec &c : Subcommands)
        m += QStringLiteral(".B qredlock\n") + roff(QString::fromLatin1(c.synopsis)) + QStringLiteral("\n.br\n");
    m += QStringLiteral(".SH DESCRIPTION\n") + roff(QString::fromUtf8(Overview)) + u'\n';
    for (const SubcommandSpec &c : Subcommands) {
        m += QStringLiteral(".TP\n.B ") + QLatin1String(c.name) + u'\n' + roff(QString::fromUtf8(c.description)) + u'\n';
    }
    m += QStringLiteral(".SH OPTIONS\n");
    for (const OptionSpec &o : Options) {
        m += QStringLiteral(".TP\n.B ") + roff(o.display()) + u'\n' + roff(QString::fromUtf8(o.help)) + u'\n';
        m += QStringLiteral(".br\nExample: \\fB") + roff(QString::fromUtf8(o.example)) + QStringLiteral("\\fR\n");
    }
    m += QStringLiteral(".PP\nDurations are a number with a unit, ms, s, m, h or d (1500ms, 30s, 1.5h); a bare "
                        "number is milliseconds (seconds for \\-w).\n");
    m += QStringLiteral(".SH EXIT STATUS\n");
    for (const SubcommandSpec &c : Subcommands)
        m += QStringLiteral(".TP\n.B ") + QLatin1String(c.name) + u'\n' + roff(QString::fromUtf8(c.exitStatus)) + u'\n';
    m += QStringLiteral(".TP\n.B all\n") + roff(QString::fromUtf8(CommonExitStatus)) + u'\n';
    m += QStringLiteral(".SH ENVIRONMENT\n.TP\n.B QREDLOCK_SERVERS\ncomma\\-separated server URLs, used when no "
                        "\\-\\-server is given.\n");
    m += QStringLiteral(".SH EXAMPLES\n.nf\n") + roff(QString::fromUtf8(ExamplesText)) + QStringLiteral("\n.fi\n");
    m += QStringLiteral(".SH SEE ALSO\n.BR flock (1),\n.BR redis\\-server (1)\n");
    return m;
}

QString bashCompletion()
{
    QString s;
    s += QStringLiteral("# bash completion for qredlock (generated by qredlock --generate-bash-completion)\n");
    s += QStringLiteral("_qredlock()\n{\n    local cur prev sub i\n    cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
                        "    prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n    sub=\"\"\n"
                        "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
                        "        [[ \"${COMP_WORDS[i]}\" == \"--\" ]] && { COMPREPLY=(); compopt -o default 2>/dev/null; return; }\n"
                        "        case \"${COMP_WORDS[i]}\" in ")
            + subcommandList().replace(u' ', u'|') + QStringLiteral(") sub=\"${COMP_WORDS[i]}\";; esac\n    done\n");
    // Options that take a value: complete nothing (or a policy) after them.
    QStringList valued;
    for (const OptionSpec &o : Options) {
        if (!o.valueName)
            continue;
        valued << QStringLiteral("--") + o.longName();
        if (!o.shortName().isEmpty())
            valued << u'-' + o.shortName();
    }
    s += QStringLiteral("    case \"$prev\" in\n        --misfire) COMPREPLY=($(compgen -W \"skip run-once\" -- \"$cur\")); return;;\n"
                        "        ") + valued.join(u'|') + QStringLiteral(") COMPREPLY=(); return;;\n    esac\n");
    s += QStringLiteral("    if [[ -z \"$sub\" ]]; then\n        COMPREPLY=($(compgen -W \"") + subcommandList()
            + QStringLiteral(" --help --version\" -- \"$cur\"))\n        return\n    fi\n    local opts\n    case \"$sub\" in\n");
    for (const SubcommandSpec &c : Subcommands) {
        QStringList names;
        for (const OptionSpec &o : Options) {
            if (!(o.subcommands & (1u << int(c.subcommand))))
                continue;
            names << QStringLiteral("--") + o.longName();
            if (!o.shortName().isEmpty())
                names << u'-' + o.shortName();
        }
        s += QStringLiteral("        ") + QLatin1String(c.name) + QStringLiteral(") opts=\"") + names.join(u' ')
                + QStringLiteral("\";;\n");
    }
    s += QStringLiteral("    esac\n    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n}\ncomplete -F _qredlock qredlock\n");
    return s;
}

} // namespace QRedlockCli
