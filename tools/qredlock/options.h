// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The one description of qredlock's command line: subcommands and options with their help
// and examples. --help, `qredlock SUBCOMMAND --help`, the man page qredlock(1) and the bash
// completion are all printed from it, so they cannot drift apart.
#pragma once

#include <QtCore/QList>
#include <QtCore/QString>

namespace QRedlockCli {

enum class Subcommand { Run, Status, Release, Schedule };

// Which subcommands an option belongs to (a bit per Subcommand).
enum SubcommandMask : unsigned {
    InRun = 1u << int(Subcommand::Run),
    InStatus = 1u << int(Subcommand::Status),
    InRelease = 1u << int(Subcommand::Release),
    InSchedule = 1u << int(Subcommand::Schedule),
    InAll = InRun | InStatus | InRelease | InSchedule,
};

struct OptionSpec
{
    const char *names;     // "s,server": one-letter names become -s, others --server
    const char *valueName; // nullptr for a switch
    unsigned subcommands;  // SubcommandMask bits
    const char *help;
    const char *example;

    QString longName() const;   // "server"
    QString shortName() const;  // "s", or empty
    QString display() const;    // "-s, --server <url>"
};

struct SubcommandSpec
{
    Subcommand subcommand;
    const char *name;
    const char *synopsis;     // after "qredlock "
    const char *description;
    const char *exitStatus;
};

const QList<OptionSpec> &optionTable();
const QList<SubcommandSpec> &subcommandTable();
const SubcommandSpec *findSubcommand(const QString &name);

// `qredlock --help`: every subcommand and option. With a subcommand: only its part.
QString helpText(const SubcommandSpec *only = nullptr);
// The man page, roff (man(7)); `qredlock --generate-man` prints it at build time.
QString manPage(const QString &version);
// A bash completion script; `qredlock --generate-bash-completion` prints it.
QString bashCompletion();

} // namespace QRedlockCli
