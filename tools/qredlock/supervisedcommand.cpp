// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "supervisedcommand.h"

#include "cli.h"
#include "exitcodes.h"
#include "processtree.h"

#include <cerrno>
#include <csignal>

namespace QRedlockCli {

SupervisedCommand::SupervisedCommand(int killAfterMs, QObject *parent) : QObject(parent), m_killAfterMs(killAfterMs)
{
    m_killTimer.setSingleShot(true);
    m_killTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_killTimer, &QTimer::timeout, this, &SupervisedCommand::onKillTimer);
}

SupervisedCommand::~SupervisedCommand() = default;

bool SupervisedCommand::becomeSubreaper()
{
    ProcessTree probe;
    if (probe.becomeSubreaper())
        return true;
    m_error = probe.errorString();
    return false;
}

bool SupervisedCommand::start(const QStringList &command, const QProcessEnvironment &environment)
{
    if (m_tree) // a finished run's tree: it may still be inside its own signal handling
        m_tree.release()->deleteLater();
    m_tree = std::make_unique<ProcessTree>();
    m_killSent = false;
    m_error.clear();
    m_startFailure = 0;
    connect(m_tree.get(), &ProcessTree::commandEnded, this, [this](int status) {
        qCDebug(lcCli).noquote() << "the command ended with status" << status;
        if (m_tree && !m_tree->isEmpty())
            qCDebug(lcCli).noquote() << "it left processes behind: the lock stays held until they end";
    });
    connect(m_tree.get(), &ProcessTree::finished, this, [this](int status) {
        m_running = false;
        m_killTimer.stop();
        Q_EMIT finished(status);
    });
    if (!m_tree->start(command, environment)) {
        m_error = QStringLiteral("cannot run '%1': %2").arg(command.value(0), m_tree->errorString());
        const int error = m_tree->execError();
        m_startFailure = error == 0 ? ExitSoftware // fork() or pipe2() failed
                                    : error == ENOENT || error == ENOTDIR ? ExitNotFound : ExitCannotExecute;
        return false;
    }
    m_running = true;
    m_clock.start();
    qCDebug(lcCli).noquote() << "the command runs as pid" << m_tree->pid() << "in a process group of its own";
    m_tree->reap(); // it may be gone already (the SIGCHLD record follows anyway)
    return true;
}

bool SupervisedCommand::isRunning() const { return m_running; }
qint64 SupervisedCommand::elapsedMs() const { return m_clock.isValid() ? m_clock.elapsed() : 0; }
qint64 SupervisedCommand::pid() const { return m_tree ? m_tree->pid() : 0; }

void SupervisedCommand::terminate(int sig)
{
    if (!m_running)
        return;
    const int outside = m_tree->signalAll(sig);
    qCDebug(lcCli).noquote() << QStringLiteral("sent signal %1 to the command's process group and %2 other processes")
                                        .arg(sig).arg(outside);
    if (!m_killTimer.isActive() && !m_killSent)
        m_killTimer.start(m_killAfterMs);
}

void SupervisedCommand::reap()
{
    if (m_tree)
        m_tree->reap();
}

void SupervisedCommand::onKillTimer()
{
    if (!m_running || m_tree->isEmpty())
        return;
    if (!m_killSent) {
        qCWarning(lcCli).noquote() << QStringLiteral("%1 processes of the command did not stop within %2 ms: sending SIGKILL")
                                              .arg(m_tree->descendantCount()).arg(m_killAfterMs);
        m_killSent = true;
    }
    m_tree->signalAll(SIGKILL);
    m_killTimer.start(100);
}

} // namespace QRedlockCli
