// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// `qredlock schedule`: a distributed cron. Every machine runs the same command line; a
// SingletonJob with the cron schedule picks, per occurrence, the one instance that runs
// COMMAND (under the process-tree rules of `run`), and keeps the shared job record.
#pragma once

#include "cli.h"
#include "supervisedcommand.h"

#include <QtCore/QObject>

#include <QRedlock/LockManager>
#include <QRedlock/SingletonJob>

namespace QRedlockCli {

class SignalWatcher;

class ScheduleCommand : public QObject
{
    Q_OBJECT

public:
    explicit ScheduleCommand(const Settings &settings, QObject *parent = nullptr);
    ~ScheduleCommand() override;

    // Returns -1 when under way (finished() follows on SIGTERM, SIGINT or SIGHUP), else an
    // exit code.
    int start();

Q_SIGNALS:
    void finished(int exitCode);

private:
    void runOccurrence(QRedlock::JobContext &context);
    void onCommandFinished(int status);
    void onSkipped();
    void onRecordRefreshed();
    void onSignal(int signalNumber);
    void finishSoon(int exitCode);
    QString occurrenceName() const;

    Settings m_settings;
    QRedlock::LockManager m_manager;
    QRedlock::SingletonJob m_job;
    SupervisedCommand m_command;
    SignalWatcher *m_signals = nullptr;
    QRedlock::JobContext m_context;     // of the run in progress
    bool m_reportSkip = false;          // a skip waits for the record to say who ran it
    bool m_stopping = false;
    bool m_done = false;
};

} // namespace QRedlockCli
