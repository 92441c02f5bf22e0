// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "runcommand.h"

#include "exitcodes.h"
#include "signalwatcher.h"

#include <QtCore/QProcessEnvironment>

#include <cerrno>
#include <climits>
#include <csignal>

using QRedlock::DistributedLock;

namespace QRedlockCli {

RunCommand::RunCommand(const Settings &settings, QObject *parent)
    : QObject(parent), m_settings(settings), m_command(settings.killAfter)
{
    m_renewDeadline.setSingleShot(true);
    m_renewDeadline.setTimerType(Qt::PreciseTimer);
    connect(&m_renewDeadline, &QTimer::timeout, this, [this] {
        stopChild(QStringLiteral("lock '%1' could not be renewed in time (%2 ms of its validity left)")
                          .arg(m_settings.resource)
                          .arg(m_lock.remainingValidity()));
    });

    connect(&m_lock, &DistributedLock::acquired, this, &RunCommand::onAcquired);
    connect(&m_lock, &DistributedLock::acquireFailed, this, &RunCommand::onAcquireFailed);
    connect(&m_lock, &DistributedLock::extended, this, &RunCommand::onExtended);
    connect(&m_lock, &DistributedLock::lost, this, [this] {
        stopChild(m_lock.errorString()); // "lock 'R' lost: <what each server said>"
    });
    connect(&m_lock, &DistributedLock::expired, this, [this] {
        stopChild(QStringLiteral("lock '%1' expired: it could not be renewed").arg(m_settings.resource));
    });
    connect(&m_lock, &DistributedLock::released, this, [this] {
        if (m_phase == Phase::Releasing)
            finishSoon(m_exitCode, 0); // every server answered (or timed out): nothing left to send
    });

    connect(&m_command, &SupervisedCommand::finished, this, &RunCommand::onTreeFinished);
}

RunCommand::~RunCommand() = default;

int RunCommand::start()
{
    if (!configureManager(m_manager, m_settings))
        return ExitUsage;

    m_lock.setManager(&m_manager);
    m_lock.setResource(m_settings.resource);
    m_lock.setTtl(m_settings.ttl);
    m_lock.setFencing(m_settings.fencing);
    m_lock.setAutoExtend(true);

    // SIGCHLD: a child of ours ended (or stopped); the tree reaps it.
    m_signals = new SignalWatcher({ SIGINT, SIGTERM, SIGHUP, SIGCHLD }, this);
    if (!m_signals->isValid()) {
        qCCritical(lcCli).noquote() << "cannot watch signals:" << m_signals->errorString();
        return ExitSoftware;
    }
    connect(m_signals, &SignalWatcher::received, this, &RunCommand::onSignal);
    // Orphans of the command become our children, so that we see them end.
    if (!m_command.becomeSubreaper()) {
        qCCritical(lcCli).noquote() << m_command.errorString();
        return ExitSoftware;
    }

    qCDebug(lcCli).noquote() << QStringLiteral("acquiring '%1' on %2 servers (quorum %3), ttl %4 ms")
                                        .arg(m_settings.resource).arg(m_manager.serverCount())
                                        .arg(m_manager.quorum()).arg(m_settings.ttl);
    if (m_settings.wait > 0) {
        m_lock.setAcquireTimeout(m_settings.wait);
        m_lock.acquire();
    } else {
        m_lock.tryAcquire();
    }
    return -1;
}

void RunCommand::onAcquired()
{
    if (m_phase != Phase::Acquiring) { // cancelled meanwhile: give it back
        m_lock.release();
        return;
    }
    m_phase = Phase::Running;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QREDLOCK_RESOURCE"), m_settings.resource);
    env.insert(QStringLiteral("QREDLOCK_TOKEN"), QString::fromLatin1(m_lock.token()));
    if (m_settings.fencing)
        env.insert(QStringLiteral("QREDLOCK_FENCING_TOKEN"), QString::number(m_lock.fencingToken()));
    else
        env.remove(QStringLiteral("QREDLOCK_FENCING_TOKEN")); // never a stale one from an outer qredlock
    qCDebug(lcCli).noquote() << "starting" << m_settings.command.join(u' ');
    if (!m_command.start(m_settings.command, env)) {
        qCWarning(lcCli).noquote() << m_command.errorString();
        m_renewDeadline.stop();
        releaseAndFinish(m_command.startFailureExitCode());
        return;
    }
    onExtended(); // arms the renewal deadline
}

void RunCommand::onAcquireFailed()
{
    if (m_phase != Phase::Acquiring)
        return; // the cancellation after a signal: already on the way out
    int code = ExitSoftware;
    switch (m_lock.error()) {
    case DistributedLock::Error::Conflict: // a quorum answered and the key is held elsewhere
        code = m_settings.conflictExitCode; // -E, default ExitTempFail
        break;
    case DistributedLock::Error::NoQuorum:
    case DistributedLock::Error::Timeout:
        code = ExitNoQuorum;
        break;
    case DistributedLock::Error::AuthError:
        code = ExitNoPermission;
        break;
    case DistributedLock::Error::ProtocolError: // TLS failures included
        code = ExitProtocol;
        break;
    case DistributedLock::Error::InvalidArgument:
        qCCritical(lcCli).noquote() << m_lock.errorString();
        finishSoon(ExitUsage);
        return;
    case DistributedLock::Error::NoError:
    case DistributedLock::Error::Cancelled:
        break;
    }
    qCWarning(lcCli).noquote() << m_lock.errorString();
    finishSoon(code);
}

void RunCommand::onExtended()
{
    // Stop the command while a third of the TTL is left unless a renewal succeeds first:
    // it then has that third to shut down before anyone else can hold the lock.
    if (m_phase != Phase::Running || m_lockGone)
        return;
    const int validity = m_lock.remainingValidity();
    qCDebug(lcCli).noquote() << QStringLiteral("lease of '%1' valid for %2 ms").arg(m_settings.resource).arg(validity);
    m_renewDeadline.start(std::max(0, validity - QRedlock::LockManager::renewalMargin(m_settings.ttl)));
}

void RunCommand::stopChild(const QString &reason)
{
    if (m_phase != Phase::Running || m_lockGone)
        return;
    m_lockGone = true;
    m_renewDeadline.stop();
    qCWarning(lcCli).noquote() << QStringLiteral("%1 - stopping the command and every process it started "
                                                 "(SIGTERM, SIGKILL after %2 ms)")
                                          .arg(reason).arg(m_settings.killAfter);
    m_command.terminate(SIGTERM);
}

void RunCommand::onTreeFinished(int commandStatus)
{
    if (m_phase != Phase::Running)
        return;
    m_renewDeadline.stop();
    if (m_lockGone) {
        qCWarning(lcCli).noquote() << QStringLiteral("the lock did not hold until the command ended: exit status %1 "
                                                     "(the command's own was %2)").arg(ExitUnavailable).arg(commandStatus);
        releaseAndFinish(ExitUnavailable);
        return;
    }
    const qint64 holdMs = m_settings.lockAtLeastFor - m_command.elapsedMs();
    if (holdMs > 0) {
        holdAndFinish(commandStatus, holdMs);
        return;
    }
    releaseAndFinish(commandStatus);
}

void RunCommand::holdAndFinish(int exitCode, qint64 holdMs)
{
    m_exitCode = exitCode;
    m_phase = Phase::Holding;
    const int ms = int(std::min<qint64>(holdMs, INT_MAX));
    qCDebug(lcCli).noquote() << QStringLiteral("the command ended after %1 ms: '%2' stays locked for %3 ms more "
                                               "(--lock-at-least-for), then expires on the servers")
                                        .arg(m_command.elapsedMs()).arg(m_settings.resource).arg(ms);
    // Exits once the shortened lease is confirmed, or the attempt failed (the keys then keep
    // the lease of the last renewal).
    connect(&m_lock, &DistributedLock::extended, this, [this] {
        if (m_phase == Phase::Holding)
            finishSoon(m_exitCode, 0);
    });
    connect(&m_lock, &DistributedLock::errorOccurred, this, [this] {
        if (m_phase != Phase::Holding)
            return;
        qCWarning(lcCli).noquote() << QStringLiteral("could not shorten the lease of '%1' to --lock-at-least-for: %2")
                                              .arg(m_settings.resource, m_lock.errorString());
        finishSoon(m_exitCode, 0);
    });
    m_lock.releaseAfter(ms);
}

void RunCommand::releaseAndFinish(int exitCode)
{
    m_exitCode = exitCode;
    m_phase = Phase::Releasing;
    // Also a lease that lapsed a moment ago (isLocked() is already false): its keys go now,
    // not at the end of their TTL. released() finishes: every server answered or timed out.
    m_lock.release();
    if (m_lock.state() != DistributedLock::State::Releasing)
        finishSoon(exitCode);
}

void RunCommand::onSignal(int signalNumber, bool fromTerminal)
{
    if (signalNumber == SIGCHLD) {
        m_command.reap();
        return;
    }
    switch (m_phase) {
    case Phase::Acquiring:
        qCWarning(lcCli).noquote() << "got signal" << signalNumber << "while acquiring" << m_settings.resource
                                   << "- giving up";
        m_phase = Phase::Done;
        m_lock.release(); // cancels the attempt and deletes whatever it may have set
        finishSoon(ExitSignalBase + signalNumber);
        return;
    case Phase::Running:
        // The command is in a process group of its own: a signal for our group (a terminal's
        // Ctrl-C when we kept the terminal, kill -TERM -PGID) reached us only, so it is passed
        // on exactly once. When the command has the terminal, its keys never reach us.
        qCDebug(lcCli).noquote() << QStringLiteral("passing signal %1 (%2) on to every process of the command")
                                            .arg(signalNumber)
                                            .arg(fromTerminal ? QStringLiteral("from the terminal") : QStringLiteral("sent to qredlock"));
        m_command.terminate(signalNumber);
        return;
    case Phase::Holding:
    case Phase::Releasing:
    case Phase::Done:
        qCDebug(lcCli) << "signal" << signalNumber << "ignored: releasing the lock";
        return;
    }
}

void RunCommand::finishSoon(int exitCode, int graceMs)
{
    m_phase = Phase::Done;
    QTimer::singleShot(graceMs, this, [this, exitCode] { Q_EMIT finished(exitCode); });
}

} // namespace QRedlockCli
