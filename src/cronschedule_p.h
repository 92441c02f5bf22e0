// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// CronScheduleData: the parsed fields of a CronSchedule, as bit sets (one bit per value).
#pragma once

#include <QtCore/QSharedData>
#include <QtCore/QString>

namespace QRedlock {

class CronScheduleData : public QSharedData
{
public:
    QString expression;
    QString errorString = QStringLiteral("empty expression");
    quint64 seconds = 0;  // bits 0-59
    quint64 minutes = 0;  // bits 0-59
    quint32 hours = 0;    // bits 0-23
    quint32 daysOfMonth = 0; // bits 1-31
    quint32 months = 0;   // bits 1-12
    quint32 daysOfWeek = 0; // bits 0-6, 0 = Sunday
    bool valid = false;
    bool domStar = false;  // the day-of-month field begins with '*'
    bool dowStar = false;  // the day-of-week field begins with '*'
    bool realTime = false; // the hour field begins with '*': follows real time across DST
    bool canFire = false;  // some (month, day) exists at all (false for "0 0 30 2 *")

    // Parses expression into the fields; sets valid, errorString, canFire.
    void parse();
};

} // namespace QRedlock
