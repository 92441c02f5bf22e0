// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// qredlock: a distributed flock(1) over Redis (Redlock). See README.md or `qredlock --help`.

#include "cli.h"
#include "exitcodes.h"
#include "inspect.h"
#include "jobstatus.h"
#include "runcommand.h"
#include "schedulecommand.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QLoggingCategory>

#include <cstdio>
#include <cstring>
#include <memory>

using namespace QRedlockCli;

namespace {

bool quietMode = false;

// "qredlock: <message>" on stderr; library messages keep their category in front.
// --quiet drops everything but fatal messages.
void messageHandler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (quietMode && type != QtFatalMsg)
        return;
    QByteArray line = QByteArrayLiteral("qredlock: ");
    const char *category = context.category;
    if (category && std::strcmp(category, "default") != 0 && std::strcmp(category, "qredlock.cli") != 0)
        line += QByteArray(category) + QByteArrayLiteral(": ");
    line += message.toLocal8Bit() + '\n';
    std::fwrite(line.constData(), 1, size_t(line.size()), stderr);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("qredlock"));
    QCoreApplication::setApplicationVersion(QStringLiteral(QREDLOCK_VERSION_STRING));

    const CommandLine commandLine = parseCommandLine(QCoreApplication::arguments(),
                                                     qEnvironmentVariable("QREDLOCK_SERVERS"));
    switch (commandLine.action) {
    case CommandLine::Action::Print:
    case CommandLine::Action::ShowHelp:
        std::fputs(qPrintable(commandLine.text), stdout);
        return ExitSuccess;
    case CommandLine::Action::ShowVersion:
        std::printf("qredlock %s\n", QREDLOCK_VERSION_STRING);
        return ExitSuccess;
    case CommandLine::Action::UsageError:
        // Always shown, also with --quiet: one line that names the problem.
        std::fprintf(stderr, "qredlock: %s\n", qPrintable(commandLine.text));
        return ExitUsage;
    case CommandLine::Action::Proceed:
        break;
    }

    const Settings &settings = commandLine.settings;
    quietMode = settings.quiet;
    qInstallMessageHandler(messageHandler);
    // Every connection failure that matters is named once, in the tool's own line about the
    // outcome (each server with what it said); the library's per-connection warnings would
    // repeat it. -v shows them, with everything else.
    QLoggingCategory::setFilterRules(settings.verbose ? QStringLiteral("qredlock.*.debug=true")
                                                      : QStringLiteral("qredlock.connection.warning=false"));

    std::unique_ptr<QObject> command;
    int code = -1;
    const auto track = [&](auto *c) {
        command.reset(c);
        QObject::connect(c, &std::remove_pointer_t<decltype(c)>::finished, &app,
                         [](int exitCode) { QCoreApplication::exit(exitCode); });
        code = c->start();
    };
    switch (settings.subcommand) {
    case Subcommand::Run:
        track(new RunCommand(settings));
        break;
    case Subcommand::Status:
        if (settings.job) {
            track(new JobStatus(settings));
            break;
        }
        Q_FALLTHROUGH();
    case Subcommand::Release:
        track(new ServerSweep(settings));
        break;
    case Subcommand::Schedule:
        track(new ScheduleCommand(settings));
        break;
    }
    if (code >= 0)
        return code;
    return QCoreApplication::exec();
}
