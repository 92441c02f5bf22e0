// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The command of `qredlock run` and every process it starts, which the lock must cover the
// way an inherited flock(1) descriptor does.
//
// The command runs in a process group of its own, and this process is the child subreaper
// (PR_SET_CHILD_SUBREAPER): a descendant whose parent dies becomes our child, so "no child
// left" means "no descendant left". signalAll() reaches the group and every descendant that
// left it (setsid, setpgid, orphans), found through the parent links in /proc.
//
// When this process is in the foreground of its controlling terminal, the command's group
// gets the terminal (tcsetpgrp) so that it can read from it and gets Ctrl-C, Ctrl-\ and
// Ctrl-Z directly (this process then does not); the terminal comes back when the command
// ends. If the command is stopped from the terminal, this process stops its own job too
// (SIGTSTP to its group) and continues the command when it is continued.
//
// Reaps every child of this process (waitpid(-1)): nothing else in the process may start
// child processes.
#pragma once

#include <QtCore/QByteArrayList>
#include <QtCore/QObject>
#include <QtCore/QProcessEnvironment>
#include <QtCore/QString>
#include <QtCore/QStringList>

#include <csignal>
#include <sys/types.h>

namespace QRedlockCli {

class ProcessTree : public QObject
{
    Q_OBJECT

public:
    explicit ProcessTree(QObject *parent = nullptr);
    ~ProcessTree() override;

    // Makes this process the child subreaper. Returns false with errorString() on failure.
    bool becomeSubreaper();
    // Forks and executes command (the program is looked up in PATH like execvp) with the
    // given environment. Returns true once the program runs, else false with errorString()
    // and, when the exec itself failed, execError() (its errno). Call once.
    bool start(const QStringList &command, const QProcessEnvironment &environment);

    QString errorString() const { return m_error; }
    int execError() const { return m_execError; }
    pid_t pid() const { return m_pid; }           // the command's pid and its group's id
    bool commandRunning() const { return m_pid > 0 && !m_commandEnded; }
    bool isEmpty() const { return m_pid > 0 && m_noChildren; } // started, and nobody left
    int commandStatus() const { return m_commandStatus; }

    // Sends sig once to every descendant: to the command's process group (while the command
    // is not reaped, its pid cannot name another group), and to each other descendant on its
    // own. Then, unless sig is SIGKILL or SIGCONT, SIGCONT likewise, so that stopped ones
    // act on it. Returns the number of processes found outside the group.
    int signalAll(int sig);
    // The descendants that are still there (not counting zombies).
    int descendantCount() const;

    // Reaps every child that has ended; call on SIGCHLD. Emits commandEnded() when the
    // command itself has ended, and finished() when, after that, no descendant is left.
    void reap();

Q_SIGNALS:
    void commandEnded(int status);     // exit code, or 128 + N when signal N ended it
    void finished(int commandStatus);  // the command's status; nothing of it runs any more

private:
    void suspendWithCommand();
    void takeTerminalBack();
    int sendToDescendants(int sig, bool skipGroup);

    QString m_error;
    pid_t m_pid = 0;
    int m_tty = -1;              // the controlling terminal while the command may own it
    struct sigaction m_ttouBefore {};
    bool m_ttouChanged = false;
    bool m_commandEnded = false;
    bool m_noChildren = false;
    bool m_finishedSent = false;
    int m_commandStatus = -1;
    int m_execError = 0;
};

} // namespace QRedlockCli
