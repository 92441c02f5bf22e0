// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// `qredlock run`: take the lock, run the command while holding it, release it afterwards.
#pragma once

#include "cli.h"
#include "supervisedcommand.h"

#include <QtCore/QObject>
#include <QtCore/QTimer>

#include <QRedlock/DistributedLock>
#include <QRedlock/LockManager>

namespace QRedlockCli {

class SignalWatcher;

class RunCommand : public QObject
{
    Q_OBJECT

public:
    explicit RunCommand(const Settings &settings, QObject *parent = nullptr);
    ~RunCommand() override;

    // Starts acquiring. Returns -1 when under way (finished() follows), else an exit code.
    int start();

Q_SIGNALS:
    void finished(int exitCode);

private:
    enum class Phase { Acquiring, Running, Holding, Releasing, Done };

    void onAcquired();
    void onAcquireFailed();
    void onExtended();
    void onTreeFinished(int commandStatus);
    void onSignal(int signalNumber, bool fromTerminal);
    void stopChild(const QString &reason);
    void releaseAndFinish(int exitCode);
    // --lock-at-least-for: the lease is cut to holdMs and left to expire on the servers.
    void holdAndFinish(int exitCode, qint64 holdMs);
    // Emits finished() after graceMs, so that the last requests (the cleanup after a failed or
    // cancelled attempt, after a lost lock) leave the sockets: Qt writes them from the event loop.
    void finishSoon(int exitCode, int graceMs = 50);

    Settings m_settings;
    QRedlock::LockManager m_manager;
    QRedlock::DistributedLock m_lock;
    SupervisedCommand m_command;
    QTimer m_renewDeadline;   // fires when the lease is down to its last third, unrenewed
    SignalWatcher *m_signals = nullptr;
    Phase m_phase = Phase::Acquiring;
    bool m_lockGone = false;  // lost, expired, or not renewed in time while the command ran
    int m_exitCode = 0;
};

} // namespace QRedlockCli
