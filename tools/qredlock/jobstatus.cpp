// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "jobstatus.h"

#include "exitcodes.h"

#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>

#include <cstdio>

namespace QRedlockCli {

namespace {

QString isoUtc(const QDateTime &t)
{
    return t.isValid() ? t.toUTC().toString(Qt::ISODateWithMs) : QString();
}

} // namespace

JobStatus::JobStatus(const Settings &settings, QObject *parent) : QObject(parent), m_settings(settings) { }

int JobStatus::start()
{
    if (!configureManager(m_manager, m_settings))
        return ExitUsage;
    m_job.setManager(&m_manager);
    m_job.setResource(m_settings.resource);
    connect(&m_job, &QRedlock::SingletonJob::recordRefreshed, this, [this] { Q_EMIT finished(report()); });
    m_job.refreshRecord();
    return -1;
}

int JobStatus::report()
{
    const QVariantMap record = m_job.lastRecord();
    if (record.isEmpty() && !m_job.errorString().isEmpty()) {
        qCWarning(lcCli).noquote() << QStringLiteral("job record of '%1' not read: %2")
                                              .arg(m_settings.resource, m_job.errorString());
        return ExitNoQuorum;
    }
    // The next occurrence by the library's own rule, from the schedule on record.
    QDateTime next;
    if (!record.isEmpty()) {
        m_job.setSchedule(record.value(QStringLiteral("schedule")).toString());
        m_job.setTimeZone(record.value(QStringLiteral("timeZone")).toString());
        m_job.setOncePerPeriod(record.value(QStringLiteral("oncePerPeriod")).toLongLong());
        next = m_job.nextOccurrence();
    }
    if (m_settings.json) {
        QJsonObject o;
        o.insert(QStringLiteral("resource"), m_settings.resource);
        o.insert(QStringLiteral("recorded"), !record.isEmpty());
        for (auto it = record.cbegin(); it != record.cend(); ++it) {
            const QVariant &v = it.value();
            o.insert(it.key(), v.typeId() == QMetaType::QDateTime ? QJsonValue(isoUtc(v.toDateTime()))
                                                                  : QJsonValue::fromVariant(v));
        }
        o.insert(QStringLiteral("next"), next.isValid() ? QJsonValue(isoUtc(next)) : QJsonValue());
        std::fputs(QJsonDocument(o).toJson(QJsonDocument::Indented).constData(), stdout);
        return ExitSuccess;
    }
    QString text;
    if (record.isEmpty()) {
        text = QStringLiteral("job '%1': no record (it never ran, or its record expired)\n").arg(m_settings.resource);
    } else {
        const QString outcome = record.value(QStringLiteral("outcome")).toString();
        text = QStringLiteral("job '%1', occurrence %2: %3 on %4\n")
                       .arg(m_settings.resource, isoUtc(record.value(QStringLiteral("occurrence")).toDateTime()),
                            outcome, record.value(QStringLiteral("holder")).toString());
        text += QStringLiteral("  started %1").arg(isoUtc(record.value(QStringLiteral("started")).toDateTime()));
        const QDateTime ended = record.value(QStringLiteral("finished")).toDateTime();
        if (ended.isValid())
            text += QStringLiteral(", ended %1 after %2 ms").arg(isoUtc(ended)).arg(record.value(QStringLiteral("durationMs")).toLongLong());
        text += u'\n';
        const QString reason = record.value(QStringLiteral("reason")).toString();
        if (!reason.isEmpty())
            text += QStringLiteral("  reason: %1\n").arg(reason);
        const QString schedule = record.value(QStringLiteral("schedule")).toString();
        if (!schedule.isEmpty())
            text += QStringLiteral("  schedule '%1' in %2\n").arg(schedule, record.value(QStringLiteral("timeZone")).toString());
        if (next.isValid())
            text += QStringLiteral("  next occurrence %1\n").arg(isoUtc(next));
    }
    std::fputs(text.toUtf8().constData(), stdout);
    return ExitSuccess;
}

} // namespace QRedlockCli
