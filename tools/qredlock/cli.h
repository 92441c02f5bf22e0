// The command line of the qredlock tool: subcommand, options, the command after "--".
#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QLoggingCategory>
#include <QtCore/QString>
#include <QtCore/QStringList>

namespace QRedlockCli {

// The tool's own messages: warnings (shown unless --quiet) and debug output (--verbose).
Q_DECLARE_LOGGING_CATEGORY(lcCli)

enum class Subcommand { Run, Status, Release };

struct Settings
{
    Subcommand subcommand = Subcommand::Run;
    QStringList servers;      // validated URLs, one per server
    QString resource;
    QString keyPrefix;
    int ttl = 30000;
    int wait = 0;             // 0: one attempt
    int retryDelay = -1;      // -1: the library's default
    int serverTimeout = -1;   // -1: the library's default
    int killAfter = 5000;
    bool fencing = false;
    bool verbose = false;
    bool quiet = false;
    bool json = false;        // status
    QByteArray token;         // release
    QStringList command;      // run: program and arguments (everything after "--")
};

struct CommandLine
{
    enum class Action { Proceed, ShowHelp, ShowVersion, UsageError };
    Action action = Action::UsageError;
    Settings settings;
    QString text;             // the help text, or the usage error (one line)
};

// arguments: the whole argv, program name first. environmentServers: the value of
// QREDLOCK_SERVERS, used when no --server is given.
CommandLine parseCommandLine(const QStringList &arguments, const QString &environmentServers);

} // namespace QRedlockCli
