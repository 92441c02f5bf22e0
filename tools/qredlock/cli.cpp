// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "cli.h"

#include "duration.h"

#include <QtCore/QCommandLineParser>
#include <QtCore/QHash>
#include <QtCore/QSet>
#include <QtCore/QTimeZone>

#include <QRedlock/CronSchedule>
#include <QRedlock/LockManager>
#include <QRedlock/RedisEndpoint>

#include <algorithm>
#include <climits>

namespace QRedlockCli {

Q_LOGGING_CATEGORY(lcCli, "qredlock.cli", QtWarningMsg)

namespace {

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

// "'run'" or "'run' or 'schedule'": the subcommands an option belongs to.
QString subcommandsOf(const OptionSpec &spec)
{
    QStringList names;
    for (const SubcommandSpec &c : subcommandTable()) {
        if (spec.subcommands & (1u << int(c.subcommand)))
            names << u'\'' + QLatin1String(c.name) + u'\'';
    }
    return names.join(QStringLiteral(" or "));
}

// One reading of one command line. Each step returns the usage error it found, if any.
class ArgumentReader
{
public:
    ArgumentReader(const QStringList &arguments, const QString &environmentServers)
        : m_arguments(arguments), m_environmentServers(environmentServers)
    {
    }

    CommandLine read();

private:
    void declareOptions();
    void splitAtSeparator();
    QString readSubcommand();
    QString checkApplicable();
    QString readCommand();
    QString readSwitches();
    QString readDurations();
    QString readScheduling();
    QString checkTtl();
    QString readTarget();
    QString readServers();

    bool isSet(const char *longName) const { return m_parser.isSet(QLatin1String(longName)); }
    QString value(const char *longName) const { return m_parser.value(QLatin1String(longName)); }

    QStringList m_arguments;
    QString m_environmentServers;
    QCommandLineParser m_parser;
    qsizetype m_separator = -1;       // index of the first "--" that is not an option's value
    const SubcommandSpec *m_subcommand = nullptr;
    Settings m_settings;
};

void ArgumentReader::declareOptions()
{
    m_parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsCompactedShortOptions);
    for (const OptionSpec &spec : optionTable()) {
        QCommandLineOption o(QString::fromLatin1(spec.names).split(u','), QString::fromUtf8(spec.help));
        if (spec.valueName)
            o.setValueName(QString::fromLatin1(spec.valueName));
        m_parser.addOption(o);
    }
    // Used by the build to write the man page and the bash completion.
    for (const char *hidden : { "generate-man", "generate-bash-completion" }) {
        QCommandLineOption o(QString::fromLatin1(hidden), QString());
        o.setFlags(QCommandLineOption::HiddenFromHelp);
        m_parser.addOption(o);
    }
}

// Everything after the first "--" that is not an option's value is the command to run; the
// parser never sees it, so the command's own options stay the command's.
void ArgumentReader::splitAtSeparator()
{
    QSet<QString> takesValue;
    for (const OptionSpec &spec : optionTable()) {
        if (!spec.valueName)
            continue;
        takesValue.insert(QStringLiteral("--") + spec.longName());
        if (!spec.shortName().isEmpty())
            takesValue.insert(u'-' + spec.shortName());
    }
    for (qsizetype i = 1; i < m_arguments.size(); ++i) {
        if (m_arguments.at(i) == QLatin1String("--")) {
            m_separator = i;
            return;
        }
        if (takesValue.contains(m_arguments.at(i)))
            ++i;
    }
}

QString ArgumentReader::readSubcommand()
{
    const QStringList positional = m_parser.positionalArguments();
    if (positional.isEmpty())
        return QStringLiteral("missing subcommand: expected run, schedule, status or release (see --help)");
    const QString name = positional.first();
    m_subcommand = findSubcommand(name);
    if (!m_subcommand)
        return QStringLiteral("unknown subcommand '%1': expected run, schedule, status or release").arg(name);
    m_settings.subcommand = m_subcommand->subcommand;
    const bool takesCommand = m_settings.subcommand == Subcommand::Run || m_settings.subcommand == Subcommand::Schedule;
    if (positional.size() > 1) {
        return QStringLiteral("unexpected argument '%1'%2").arg(positional.at(1),
                takesCommand ? QStringLiteral(": put the command after '--'") : QString());
    }
    return QString();
}

QString ArgumentReader::checkApplicable()
{
    const unsigned bit = 1u << int(m_settings.subcommand);
    for (const OptionSpec &spec : optionTable()) {
        if (!(spec.subcommands & bit) && m_parser.isSet(spec.longName()))
            return QStringLiteral("--%1 is only valid with %2").arg(spec.longName(), subcommandsOf(spec));
    }
    return QString();
}

QString ArgumentReader::readCommand()
{
    const QString name = QLatin1String(m_subcommand->name);
    if (m_settings.subcommand == Subcommand::Run || m_settings.subcommand == Subcommand::Schedule) {
        if (m_separator < 0 || m_separator + 1 >= m_arguments.size())
            return QStringLiteral("missing command after '--' (qredlock %1)").arg(QLatin1String(m_subcommand->synopsis));
        m_settings.command = m_arguments.mid(m_separator + 1);
    } else if (m_separator >= 0) {
        return QStringLiteral("'%1' takes no command after '--'").arg(name);
    }
    return QString();
}

QString ArgumentReader::readSwitches()
{
    Settings &s = m_settings;
    s.verbose = isSet("verbose");
    s.quiet = isSet("quiet");
    if (s.verbose && s.quiet)
        return QStringLiteral("--verbose and --quiet exclude each other");
    s.json = isSet("json");
    s.fencing = isSet("fencing");
    if (isSet("nonblock") && (isSet("wait") || isSet("timeout")))
        return QStringLiteral("--nonblock makes one attempt: it excludes --wait and --timeout");
    if (isSet("wait") && isSet("timeout"))
        return QStringLiteral("--wait and --timeout say the same: give one");
    if (isSet("conflict-exit-code")) {
        bool ok = false;
        const QString text = value("conflict-exit-code");
        const int code = text.toInt(&ok);
        if (!ok || code < 0 || code > 255 || text.startsWith(u'+'))
            return QStringLiteral("--conflict-exit-code must be a number from 0 to 255, got '%1'").arg(text);
        s.conflictExitCode = code;
    }
    return QString();
}

QString ArgumentReader::readDurations()
{
    Settings &s = m_settings;
    int timeoutMs = -1;
    struct Field { const char *name; int *target; qint64 *wide; qint64 minimum; qint64 bareUnit; const char *expected; };
    const Field fields[] = {
        { "ttl", &s.ttl, nullptr, 1, 1, "a positive duration" },
        { "wait", &s.wait, nullptr, 0, 1, "0 or a positive duration" },
        { "timeout", &timeoutMs, nullptr, 0, 1000, "0 or a positive number of seconds" },
        { "retry-delay", &s.retryDelay, nullptr, 0, 1, "0 or a positive duration" },
        { "server-timeout", &s.serverTimeout, nullptr, 1, 1, "a positive duration" },
        { "kill-after", &s.killAfter, nullptr, 0, 1, "0 or a positive duration" },
        { "lock-at-least-for", nullptr, &s.lockAtLeastFor, 0, 1, "0 or a positive duration" },
        { "lock-at-most-for", nullptr, &s.lockAtMostFor, 1, 1, "a positive duration" },
        { "misfire-grace", nullptr, &s.misfireGrace, 0, 1, "0 or a positive duration" },
    };
    for (const Field &f : fields) {
        if (!isSet(f.name))
            continue;
        const QString text = value(f.name);
        const Duration d = Duration::parse(text, f.bareUnit, f.target ? qint64(INT_MAX) : Duration::Maximum);
        if (!d.ok)
            return QStringLiteral("--%1: %2").arg(QLatin1String(f.name), d.error);
        if (d.ms < f.minimum)
            return QStringLiteral("--%1 must be %2, got '%3'").arg(QLatin1String(f.name), QLatin1String(f.expected), text);
        if (f.target)
            *f.target = int(d.ms);
        else
            *f.wide = d.ms;
    }
    if (timeoutMs >= 0)
        s.wait = timeoutMs;
    return QString();
}

QString ArgumentReader::readScheduling()
{
    Settings &s = m_settings;
    if (s.subcommand != Subcommand::Schedule)
        return QString();
    if (!isSet("cron"))
        return QStringLiteral("missing --cron (when to run, e.g. --cron '0 2 * * *')");
    s.cron = value("cron").trimmed();
    if (s.cron.isEmpty())
        return QStringLiteral("empty --cron expression");
    const QRedlock::CronSchedule schedule(s.cron);
    if (!schedule.isValid())
        return QStringLiteral("--cron '%1': %2").arg(s.cron, schedule.errorString());
    if (isSet("tz")) {
        s.timeZone = value("tz");
        if (!QTimeZone(s.timeZone.toUtf8()).isValid())
            return QStringLiteral("--tz: unknown time zone '%1' (expected an IANA id such as Europe/Berlin or UTC)")
                    .arg(s.timeZone);
    }
    if (isSet("misfire")) {
        const QString policy = value("misfire");
        if (policy == QLatin1String("skip"))
            s.misfireSkip = true;
        else if (policy != QLatin1String("run-once"))
            return QStringLiteral("--misfire must be skip or run-once, got '%1'").arg(policy);
    }
    return QString();
}

// The library owns the rule (LockManager::minimumTtl()); asked here so that a TTL too short
// to renew is a usage error before anything is tried.
QString ArgumentReader::checkTtl()
{
    const Settings &s = m_settings;
    if (s.subcommand != Subcommand::Run && s.subcommand != Subcommand::Schedule)
        return QString(); // status and release take no lease
    QRedlock::LockManager defaults;
    if (s.serverTimeout > 0)
        defaults.setServerTimeout(s.serverTimeout);
    const int minimum = defaults.minimumTtl();
    // run: the lease is --ttl; schedule: --lock-at-most-for (a SingletonJob's lease).
    const bool run = s.subcommand == Subcommand::Run;
    const qint64 lease = run ? s.ttl : s.lockAtMostFor;
    if (lease < minimum) {
        return QStringLiteral("--%1 %2 ms is too short to be renewed in time: at least %3 ms with --server-timeout %4")
                .arg(run ? QStringLiteral("ttl") : QStringLiteral("lock-at-most-for")).arg(lease).arg(minimum)
                .arg(defaults.serverTimeout());
    }
    return QString();
}

QString ArgumentReader::readTarget()
{
    Settings &s = m_settings;
    if (isSet("job") && isSet("resource"))
        return QStringLiteral("--job names the resource already: give --job or --resource, not both");
    s.job = isSet("job");
    const char *option = s.job ? "job" : "resource";
    if (!isSet(option))
        return QStringLiteral("missing --resource (the name of the lock)");
    s.resource = value(option);
    if (s.resource.isEmpty())
        return QStringLiteral("empty resource name (--%1)").arg(QLatin1String(option));
    s.keyPrefix = value("key-prefix");
    if (s.subcommand == Subcommand::Release) {
        if (!isSet("token"))
            return QStringLiteral("missing --token (the holder's QREDLOCK_TOKEN) for 'release'");
        s.token = value("token").toUtf8();
        if (s.token.isEmpty())
            return QStringLiteral("empty --token");
    }
    return QString();
}

QString ArgumentReader::readServers()
{
    return isSet("server")
            ? collectServers(m_parser.values(QStringLiteral("server")), QStringLiteral("--server"), &m_settings.servers)
            : collectServers({ m_environmentServers }, QStringLiteral("QREDLOCK_SERVERS"), &m_settings.servers);
}

CommandLine ArgumentReader::read()
{
    CommandLine result;
    const auto fail = [&result](const QString &message) {
        result.action = CommandLine::Action::UsageError;
        result.text = message;
        return result;
    };
    declareOptions();
    splitAtSeparator();
    if (!m_parser.parse(m_separator < 0 ? m_arguments : m_arguments.mid(0, m_separator)))
        return fail(m_parser.errorText());

    if (isSet("generate-man") || isSet("generate-bash-completion")) {
        result.action = CommandLine::Action::Print;
        result.text = isSet("generate-man") ? manPage(QStringLiteral(QREDLOCK_VERSION_STRING)) : bashCompletion();
        return result;
    }
    if (isSet("help")) {
        const QStringList positional = m_parser.positionalArguments();
        result.action = CommandLine::Action::ShowHelp;
        result.text = helpText(positional.isEmpty() ? nullptr : findSubcommand(positional.first()));
        return result;
    }
    if (isSet("version")) {
        result.action = CommandLine::Action::ShowVersion;
        return result;
    }

    using Step = QString (ArgumentReader::*)();
    const Step steps[] = { &ArgumentReader::readSubcommand, &ArgumentReader::checkApplicable, &ArgumentReader::readCommand,
                           &ArgumentReader::readSwitches, &ArgumentReader::readDurations, &ArgumentReader::checkTtl,
                           &ArgumentReader::readScheduling, &ArgumentReader::readTarget, &ArgumentReader::readServers };
    for (Step step : steps) {
        const QString problem = (this->*step)();
        if (!problem.isEmpty())
            return fail(problem);
    }
    result.action = CommandLine::Action::Proceed;
    result.settings = m_settings;
    return result;
}

} // namespace

bool configureManager(QRedlock::LockManager &manager, const Settings &settings)
{
    if (!manager.setServers(settings.servers)) {
        qCCritical(lcCli).noquote() << manager.errorString();
        return false;
    }
    manager.setKeyPrefix(settings.keyPrefix);
    if (settings.subcommand == Subcommand::Status || settings.subcommand == Subcommand::Release) {
        // One exchange per server: it may wait longer than a lock's round.
        manager.setServerTimeout(settings.serverTimeout > 0 ? std::max(1000, 4 * settings.serverTimeout) : 1000);
        return true;
    }
    if (settings.serverTimeout > 0)
        manager.setServerTimeout(settings.serverTimeout);
    if (settings.retryDelay >= 0) {
        manager.setRetryDelay(settings.retryDelay);
        manager.setRetryJitter(settings.retryDelay / 2);
    }
    manager.setRetryCount(-1); // with --wait, the acquire timeout alone bounds the attempts
    return true;
}

CommandLine parseCommandLine(const QStringList &arguments, const QString &environmentServers)
{
    ArgumentReader reader(arguments, environmentServers);
    return reader.read();
}

} // namespace QRedlockCli
