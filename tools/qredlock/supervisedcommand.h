// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// One run of the user's COMMAND under the process-tree rules of `qredlock run` and
// `qredlock schedule`: started in a process group of its own (ProcessTree), stopped with a
// signal to every descendant and SIGKILL to what is left after --kill-after, and over only
// once nothing of it runs any more. A new ProcessTree for every start, so `schedule` can run
// the command again and again.
#pragma once

#include <QtCore/QElapsedTimer>
#include <QtCore/QObject>
#include <QtCore/QProcessEnvironment>
#include <QtCore/QStringList>
#include <QtCore/QTimer>

#include <memory>

namespace QRedlockCli {

class ProcessTree;

class SupervisedCommand : public QObject
{
    Q_OBJECT

public:
    explicit SupervisedCommand(int killAfterMs, QObject *parent = nullptr);
    ~SupervisedCommand() override;

    // Makes this process the child subreaper (once per process); false with errorString().
    bool becomeSubreaper();
    // Starts the command. False when it could not start: errorString() and
    // startFailureExitCode() (127 not found, 126 not executable, 70 fork failed) say why.
    bool start(const QStringList &command, const QProcessEnvironment &environment);
    QString errorString() const { return m_error; }
    int startFailureExitCode() const { return m_startFailure; }

    bool isRunning() const;             // started, and something of it is left
    qint64 elapsedMs() const;           // since the start
    qint64 pid() const;
    // Sends sig to the command and every process it started, and SIGKILL to whatever is left
    // after the kill-after grace (again every 100 ms, for anything forked meanwhile).
    void terminate(int sig);
    // Reaps what has ended; call on SIGCHLD.
    void reap();

Q_SIGNALS:
    void finished(int commandStatus);   // exit code, or 128 + N; nothing of it runs any more

private:
    void onKillTimer();

    int m_killAfterMs;
    std::unique_ptr<ProcessTree> m_tree;
    QTimer m_killTimer;
    QElapsedTimer m_clock;
    bool m_killSent = false;
    bool m_running = false;
    QString m_error;
    int m_startFailure = 0;
};

} // namespace QRedlockCli
