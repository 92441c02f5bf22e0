// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The command line of the qredlock tool: subcommand, options, the command after "--".
// What the options are, and their help, is in options.h; this file reads them.
#pragma once

#include "options.h"

#include <QtCore/QByteArray>
#include <QtCore/QLoggingCategory>
#include <QtCore/QString>
#include <QtCore/QStringList>

namespace QRedlock {
class LockManager;
}

namespace QRedlockCli {

// The tool's own messages: warnings (shown unless --quiet) and debug output (--verbose).
Q_DECLARE_LOGGING_CATEGORY(lcCli)

struct Settings
{
    Subcommand subcommand = Subcommand::Run;
    QStringList servers;        // validated URLs, one per server
    QString resource;
    QString keyPrefix;
    int ttl = 30000;            // ms
    int wait = 0;               // ms; 0: one attempt
    int retryDelay = -1;        // ms; -1: the library's default
    int serverTimeout = -1;     // ms; -1: the library's default
    int killAfter = 5000;       // ms
    int conflictExitCode = 75;  // -E: "held elsewhere"
    qint64 lockAtLeastFor = 0;          // ms (run, schedule)
    qint64 lockAtMostFor = 3600000;     // ms (schedule)
    qint64 misfireGrace = 3600000;      // ms (schedule)
    bool misfireSkip = false;           // schedule: --misfire skip
    QString cron;                       // schedule
    QString timeZone;                   // schedule; empty: the system's
    bool job = false;           // status --job: the resource names a scheduled job
    bool fencing = false;
    bool verbose = false;
    bool quiet = false;
    bool json = false;          // status
    QByteArray token;           // release
    QStringList command;        // run, schedule: program and arguments (everything after "--")
};

struct CommandLine
{
    enum class Action { Proceed, ShowHelp, ShowVersion, Print, UsageError };
    Action action = Action::UsageError;
    Settings settings;
    QString text;               // the help text or generated file (Print), or the usage error (one line)
};

// Sets the manager up from the command line (servers, timeouts, retry pauses, key prefix):
// the one place that maps options onto the library. False (the problem logged) when the
// servers are refused.
bool configureManager(QRedlock::LockManager &manager, const Settings &settings);

// arguments: the whole argv, program name first. environmentServers: the value of
// QREDLOCK_SERVERS, used when no --server is given.
CommandLine parseCommandLine(const QStringList &arguments, const QString &environmentServers);

} // namespace QRedlockCli
