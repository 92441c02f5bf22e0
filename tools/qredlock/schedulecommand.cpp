// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "schedulecommand.h"

#include "exitcodes.h"
#include "signalwatcher.h"

#include <QtCore/QProcessEnvironment>
#include <QtCore/QTimer>

#include <csignal>

using QRedlock::JobContext;
using QRedlock::SingletonJob;

namespace QRedlockCli {

namespace {

QString isoUtc(const QDateTime &t)
{
    return t.isValid() ? t.toUTC().toString(Qt::ISODateWithMs) : QStringLiteral("(none)");
}

} // namespace

ScheduleCommand::ScheduleCommand(const Settings &settings, QObject *parent)
    : QObject(parent), m_settings(settings), m_command(settings.killAfter)
{
    connect(&m_command, &SupervisedCommand::finished, this, &ScheduleCommand::onCommandFinished);
    connect(&m_job, &SingletonJob::skipped, this, &ScheduleCommand::onSkipped);
    connect(&m_job, &SingletonJob::recordRefreshed, this, &ScheduleCommand::onRecordRefreshed);
    connect(&m_job, &SingletonJob::cancelled, this, [this] {
        if (!m_command.isRunning() || m_stopping)
            return;
        qCWarning(lcCli).noquote() << QStringLiteral("%1: %2 - stopping the command and every process it started "
                                                     "(SIGTERM, SIGKILL after %3 ms)")
                                              .arg(occurrenceName(), m_job.errorString()).arg(m_settings.killAfter);
        m_command.terminate(SIGTERM);
    });
}

ScheduleCommand::~ScheduleCommand() = default;

int ScheduleCommand::start()
{
    if (!configureManager(m_manager, m_settings))
        return ExitUsage;
    // Refused settings are reported through errorOccurred(): a usage error before anything runs.
    QString refused;
    const auto connection = connect(&m_job, &SingletonJob::errorOccurred, this,
                                    [&refused](const QString &message) { refused = message; });
    m_job.setManager(&m_manager);
    m_job.setResource(m_settings.resource);
    m_job.setSchedule(m_settings.cron);
    if (!m_settings.timeZone.isEmpty())
        m_job.setTimeZone(m_settings.timeZone);
    m_job.setMisfirePolicy(m_settings.misfireSkip ? SingletonJob::MisfirePolicy::Skip : SingletonJob::MisfirePolicy::RunOnce);
    m_job.setMisfireGrace(m_settings.misfireGrace);
    m_job.setLockAtMostFor(m_settings.lockAtMostFor);
    m_job.setLockAtLeastFor(m_settings.lockAtLeastFor);
    m_job.setFencing(m_settings.fencing);
    disconnect(connection);
    if (!refused.isEmpty()) {
        qCCritical(lcCli).noquote() << refused;
        return ExitUsage;
    }
    connect(&m_job, &SingletonJob::errorOccurred, this, [](const QString &message) {
        qCWarning(lcCli).noquote() << message;
    });

    m_signals = new SignalWatcher({ SIGINT, SIGTERM, SIGHUP, SIGCHLD }, this);
    if (!m_signals->isValid()) {
        qCCritical(lcCli).noquote() << "cannot watch signals:" << m_signals->errorString();
        return ExitSoftware;
    }
    connect(m_signals, &SignalWatcher::received, this, [this](int signalNumber, bool) { onSignal(signalNumber); });
    if (!m_command.becomeSubreaper()) {
        qCCritical(lcCli).noquote() << m_command.errorString();
        return ExitSoftware;
    }

    m_job.setJob([this](JobContext &context) { runOccurrence(context); });
    m_job.setActive(true);
    qCDebug(lcCli).noquote() << QStringLiteral("scheduling '%1' (%2 in %3) on %4 servers; next occurrence %5")
                                        .arg(m_settings.resource, m_settings.cron, m_job.timeZone())
                                        .arg(m_manager.serverCount()).arg(isoUtc(m_job.nextOccurrence()));
    return -1;
}

QString ScheduleCommand::occurrenceName() const
{
    return QStringLiteral("'%1' occurrence %2").arg(m_settings.resource, isoUtc(m_context.occurrence()));
}

void ScheduleCommand::runOccurrence(JobContext &context)
{
    m_context = context;
    if (m_stopping) {
        context.fail(QStringLiteral("qredlock schedule is stopping"));
        return;
    }
    const QDateTime occurrence = context.occurrence();
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QREDLOCK_RESOURCE"), m_settings.resource);
    env.insert(QStringLiteral("QREDLOCK_TOKEN"), QString::fromLatin1(context.token()));
    env.insert(QStringLiteral("QREDLOCK_OCCURRENCE"), isoUtc(occurrence));
    env.insert(QStringLiteral("QREDLOCK_OCCURRENCE_MS"), QString::number(occurrence.toMSecsSinceEpoch()));
    if (m_settings.fencing)
        env.insert(QStringLiteral("QREDLOCK_FENCING_TOKEN"), QString::number(context.fencingToken()));
    else
        env.remove(QStringLiteral("QREDLOCK_FENCING_TOKEN"));
    qCDebug(lcCli).noquote() << occurrenceName() << "- starting" << m_settings.command.join(u' ');
    if (!m_command.start(m_settings.command, env)) {
        qCWarning(lcCli).noquote() << QStringLiteral("%1: failed: %2").arg(occurrenceName(), m_command.errorString());
        context.fail(m_command.errorString());
    }
}

void ScheduleCommand::onCommandFinished(int status)
{
    const qint64 ms = m_command.elapsedMs();
    if (m_context.isCancelled()) {
        qCWarning(lcCli).noquote() << QStringLiteral("%1: cancelled after %2 ms (exit status %3)")
                                              .arg(occurrenceName()).arg(ms).arg(status);
    } else if (status == 0) {
        qCWarning(lcCli).noquote() << QStringLiteral("%1: ran here in %2 ms, exit status 0").arg(occurrenceName()).arg(ms);
        m_context.finish();
    } else {
        qCWarning(lcCli).noquote() << QStringLiteral("%1: ran here in %2 ms, exit status %3")
                                              .arg(occurrenceName()).arg(ms).arg(status);
        m_context.fail(QStringLiteral("exit status %1").arg(status));
    }
    if (m_stopping)
        finishSoon(ExitSuccess);
}

void ScheduleCommand::onSkipped()
{
    // Who ran it is on the record; the skip's own reason says it when the record cannot.
    m_reportSkip = true;
    m_job.refreshRecord();
}

void ScheduleCommand::onRecordRefreshed()
{
    if (!m_reportSkip)
        return;
    m_reportSkip = false;
    const QVariantMap record = m_job.lastRecord();
    if (record.isEmpty()) {
        qCWarning(lcCli).noquote() << QStringLiteral("'%1': skipped: %2").arg(m_settings.resource, m_job.errorString());
        return;
    }
    qCWarning(lcCli).noquote() << QStringLiteral("'%1' occurrence %2: skipped here: %3 on %4")
                                          .arg(m_settings.resource,
                                               isoUtc(record.value(QStringLiteral("occurrence")).toDateTime()),
                                               record.value(QStringLiteral("outcome")).toString(),
                                               record.value(QStringLiteral("holder")).toString());
}

void ScheduleCommand::onSignal(int signalNumber)
{
    if (signalNumber == SIGCHLD) {
        m_command.reap();
        return;
    }
    if (m_stopping)
        return;
    m_stopping = true;
    m_job.setActive(false);
    if (!m_command.isRunning()) {
        qCDebug(lcCli) << "signal" << signalNumber << "- stopping";
        finishSoon(ExitSuccess);
        return;
    }
    // The record says cancelled; the command gets the signal, SIGKILL after --kill-after.
    qCWarning(lcCli).noquote() << QStringLiteral("%1: got signal %2 - stopping the command").arg(occurrenceName()).arg(signalNumber);
    m_job.cancelRun(QStringLiteral("qredlock schedule got signal %1").arg(signalNumber));
    m_command.terminate(signalNumber);
}

void ScheduleCommand::finishSoon(int exitCode)
{
    if (m_done)
        return;
    m_done = true;
    // The last record write and the release leave the sockets from the event loop.
    QTimer::singleShot(200, this, [this, exitCode] { Q_EMIT finished(exitCode); });
}

} // namespace QRedlockCli
