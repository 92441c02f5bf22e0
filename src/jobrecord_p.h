// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// JobRecord: what the servers keep about a SingletonJob's latest run, shared by every
// instance. Stored as a Redis hash on each server (see LockManagerPrivate::writeRecord());
// the fields below are the hash's fields and, with QDateTime twins, SingletonJob::lastRecord.
#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QVariantMap>

namespace QRedlock {

struct RedisValue;
class RedisScript;

// The script that writes a record (loaded on every connection at its handshake, so that a
// record write and the release sent after it leave in that order).
const RedisScript &writeRecordScript();

class JobRecord
{
public:
    // The outcomes (field "outcome").
    static QString running() { return QStringLiteral("running"); }
    static QString finished() { return QStringLiteral("finished"); }
    static QString failed() { return QStringLiteral("failed"); }
    static QString cancelled() { return QStringLiteral("cancelled"); }

    QString resource;
    qint64 occurrenceMs = -1;  // ms since the epoch (UTC)
    qint64 startedMs = -1;
    qint64 finishedMs = -1;    // -1 while running
    QString holder;            // LockManager::holderIdentity of the runner
    QString outcome;           // empty: no record
    QString reason;            // failed / cancelled
    qint64 durationMs = -1;    // -1 while running
    qint64 fencingToken = -1;
    QString schedule;
    QString timeZone;
    qint64 oncePerPeriod = 0;

    bool isNull() const { return outcome.isEmpty(); }
    // Newest wins: by occurrence, then by start.
    bool isNewerThan(const JobRecord &other) const;
    bool operator==(const JobRecord &other) const;
    bool operator!=(const JobRecord &other) const { return !(*this == other); }

    QVariantMap toVariantMap() const;         // empty when null
    QList<QByteArray> toFields() const;       // HSET field value ...
    static JobRecord fromFields(const RedisValue &hgetall); // null when empty or malformed
};

} // namespace QRedlock
