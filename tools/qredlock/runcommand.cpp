#include "runcommand.h"

#include "exitcodes.h"
#include "signalwatcher.h"

#include <QtCore/QFileInfo>
#include <QtCore/QStandardPaths>

#include <csignal>
#include <sys/prctl.h>
#include <unistd.h>

using QRedlock::DistributedLock;

namespace QRedlockCli {

RunCommand::RunCommand(const Settings &settings, QObject *parent) : QObject(parent), m_settings(settings)
{
    m_renewDeadline.setSingleShot(true);
    m_renewDeadline.setTimerType(Qt::PreciseTimer);
    connect(&m_renewDeadline, &QTimer::timeout, this, [this] {
        stopChild(QStringLiteral("lock '%1' could not be renewed in time (%2 ms of its validity left)")
                          .arg(m_settings.resource)
                          .arg(m_lock.remainingValidity()));
    });
    m_killTimer.setSingleShot(true);
    m_killTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_killTimer, &QTimer::timeout, this, [this] {
        if (m_child.state() == QProcess::NotRunning)
            return;
        qCWarning(lcCli).noquote() << "the command did not stop within" << m_settings.killAfter
                                   << "ms of SIGTERM: sending SIGKILL";
        m_child.kill();
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

    m_child.setProcessChannelMode(QProcess::ForwardedChannels);
    m_child.setInputChannelMode(QProcess::ForwardedInputChannel);
    // Should qredlock itself die (SIGKILL, the OOM killer), nobody renews the lock any more:
    // the kernel then sends the command SIGTERM, as for a lost lock.
    const pid_t self = ::getpid();
    m_child.setChildProcessModifier([self] {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != self) // died before prctl() took effect
            ::raise(SIGTERM);
    });
    connect(&m_child, &QProcess::errorOccurred, this, &RunCommand::onChildError);
    connect(&m_child, &QProcess::finished, this, &RunCommand::onChildFinished);
}

RunCommand::~RunCommand() = default;

int RunCommand::start()
{
    if (!m_manager.setServers(m_settings.servers)) {
        qCCritical(lcCli).noquote() << m_manager.errorString();
        return ExitUsage;
    }
    if (m_settings.serverTimeout > 0)
        m_manager.setServerTimeout(m_settings.serverTimeout);
    if (m_settings.retryDelay >= 0) {
        m_manager.setRetryDelay(m_settings.retryDelay);
        m_manager.setRetryJitter(m_settings.retryDelay / 2);
    }
    m_manager.setRetryCount(-1); // with --wait, the acquire timeout alone bounds the attempts
    m_manager.setKeyPrefix(m_settings.keyPrefix);

    m_lock.setManager(&m_manager);
    m_lock.setResource(m_settings.resource);
    m_lock.setTtl(m_settings.ttl);
    m_lock.setFencing(m_settings.fencing);
    m_lock.setAutoExtend(true);

    m_signals = new SignalWatcher({ SIGINT, SIGTERM, SIGHUP }, this);
    if (!m_signals->isValid()) {
        qCCritical(lcCli).noquote() << "cannot watch signals:" << m_signals->errorString();
        return ExitSoftware;
    }
    connect(m_signals, &SignalWatcher::received, this, &RunCommand::onSignal);

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
    m_child.setProcessEnvironment(env);
    m_child.setProgram(m_settings.command.first());
    m_child.setArguments(m_settings.command.mid(1));
    qCDebug(lcCli).noquote() << "starting" << m_settings.command.join(u' ');
    onExtended(); // arms the renewal deadline
    m_child.start();
}

void RunCommand::onAcquireFailed()
{
    if (m_phase != Phase::Acquiring)
        return; // the cancellation after a signal: already on the way out
    if (m_lock.error() == DistributedLock::Error::InvalidArgument) {
        qCCritical(lcCli).noquote() << m_lock.errorString();
        finishSoon(ExitUsage);
        return;
    }
    qCWarning(lcCli).noquote() << m_lock.errorString();
    finishSoon(ExitTempFail);
}

void RunCommand::onExtended()
{
    // Stop the command while a third of the TTL is left unless a renewal succeeds first:
    // it then has that third to shut down before anyone else can hold the lock.
    if (m_phase != Phase::Running || m_lockGone)
        return;
    const int validity = m_lock.remainingValidity();
    qCDebug(lcCli).noquote() << QStringLiteral("lease of '%1' valid for %2 ms").arg(m_settings.resource).arg(validity);
    m_renewDeadline.start(std::max(0, validity - m_settings.ttl / 3));
}

void RunCommand::stopChild(const QString &reason)
{
    if (m_phase != Phase::Running || m_lockGone)
        return;
    m_lockGone = true;
    m_renewDeadline.stop();
    if (m_child.state() == QProcess::NotRunning)
        return;
    qCWarning(lcCli).noquote() << QStringLiteral("%1 - stopping the command (SIGTERM, SIGKILL after %2 ms)")
                                          .arg(reason).arg(m_settings.killAfter);
    m_child.terminate();
    m_killTimer.start(m_settings.killAfter);
}

void RunCommand::onChildError(QProcess::ProcessError error)
{
    if (error != QProcess::FailedToStart || m_phase != Phase::Running)
        return;
    const QString program = m_settings.command.first();
    const bool found = program.contains(u'/') ? QFileInfo::exists(program)
                                              : !QStandardPaths::findExecutable(program).isEmpty();
    qCWarning(lcCli).noquote() << QStringLiteral("cannot run '%1': %2").arg(program, m_child.errorString());
    m_renewDeadline.stop();
    releaseAndFinish(found ? ExitCannotExecute : ExitNotFound);
}

void RunCommand::onChildFinished(int exitCode, QProcess::ExitStatus status)
{
    if (m_phase != Phase::Running)
        return;
    m_killTimer.stop();
    m_renewDeadline.stop();
    // On a crash, QProcess reports the signal number as the exit code.
    const int childStatus = status == QProcess::NormalExit ? exitCode : ExitSignalBase + exitCode;
    qCDebug(lcCli).noquote() << "the command ended with status" << childStatus;
    if (m_lockGone) {
        qCWarning(lcCli).noquote() << QStringLiteral("the lock did not hold until the command ended: exit status %1 "
                                                     "(the command's own was %2)").arg(ExitUnavailable).arg(childStatus);
        releaseAndFinish(ExitUnavailable);
        return;
    }
    releaseAndFinish(childStatus);
}

void RunCommand::releaseAndFinish(int exitCode)
{
    m_exitCode = exitCode;
    m_phase = Phase::Releasing;
    if (m_lock.isLocked())
        m_lock.release(); // released() finishes: every server answered or timed out
    else
        finishSoon(exitCode);
}

void RunCommand::onSignal(int signalNumber, bool fromTerminal)
{
    switch (m_phase) {
    case Phase::Acquiring:
        qCWarning(lcCli).noquote() << "got signal" << signalNumber << "while acquiring" << m_settings.resource
                                   << "- giving up";
        m_phase = Phase::Done;
        m_lock.release(); // cancels the attempt and deletes whatever it may have set
        finishSoon(ExitSignalBase + signalNumber);
        return;
    case Phase::Running: {
        if (m_child.state() == QProcess::NotRunning)
            return;
        const pid_t pid = pid_t(m_child.processId());
        // A terminal sends Ctrl-C (or a hang-up) to its whole foreground process group: while
        // the command still shares ours, it got that signal already.
        if (fromTerminal && ::getpgid(pid) == ::getpgrp()) {
            qCDebug(lcCli) << "signal" << signalNumber << "came from the terminal: the command has it too";
            return;
        }
        qCDebug(lcCli).noquote() << QStringLiteral("forwarding signal %1 to the command (pid %2)").arg(signalNumber).arg(pid);
        ::kill(pid, signalNumber);
        return;
    }
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
