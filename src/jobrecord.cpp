// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "jobrecord_p.h"

#include "lockmanager_p.h"
#include "logging_p.h"
#include "redisvalue_p.h"

#include <QtCore/QDateTime>

namespace QRedlock {

namespace {

// The format of the hash, for readers of another version: bumped on incompatible changes.
constexpr int RecordVersion = 1;

QDateTime utc(qint64 ms)
{
    return ms >= 0 ? QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC) : QDateTime();
}

// Writes the record only while the occurrence's lock key still holds our token, and never
// over the record of a later occurrence. KEYS: the lock key, the record key; ARGV: token,
// record ttl (ms), our occurrence (ms), then the hash's field/value pairs. Returns 1
// written, 0 not our lock (a stale holder), 2 a later occurrence is on record.
const char WriteRecordLua[] = R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local t = redis.call('TYPE', KEYS[2]).ok
if t == 'hash' then
  local o = tonumber(redis.call('HGET', KEYS[2], 'occurrence') or '-1') or -1
  if o > tonumber(ARGV[3]) then return 2 end
elseif t ~= 'none' then
  return redis.error_reply('WRONGTYPE the job record key holds a ' .. t)
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
)lua";

using Result = QuorumRound::Result;

Result classifyWrite(const RedisReply &reply, QuorumRound::Server &s)
{
    if (!reply.ok()) {
        s.detail = reply.errorString;
        return reply.failure == RedisFailure::Timeout ? Result::Timeout : Result::Error;
    }
    if (reply.value.type == RedisValue::Type::Integer) {
        s.value = reply.value;
        return reply.value.integer == 1 ? Result::Granted : Result::Refused;
    }
    s.detail = reply.value.isError() ? QString::fromUtf8(reply.value.string) : QStringLiteral("unexpected reply to the record write");
    return Result::Error;
}

Result classifyRead(const RedisReply &reply, QuorumRound::Server &s)
{
    if (!reply.ok()) {
        s.detail = reply.errorString;
        return reply.failure == RedisFailure::Timeout ? Result::Timeout : Result::Error;
    }
    if (reply.value.type == RedisValue::Type::Array) {
        s.value = reply.value;
        return Result::Granted;
    }
    s.detail = reply.value.isError() ? QString::fromUtf8(reply.value.string) : QStringLiteral("unexpected reply to the record read");
    return Result::Error;
}

QString problemsOf(const QuorumRound &r, const QStringList &urls)
{
    QStringList problems;
    for (int i = 0; i < r.size(); ++i) {
        const QuorumRound::Server &s = r.servers[size_t(i)];
        if (s.result != Result::Granted && s.result != Result::Refused && s.result != Result::Pending)
            problems << QStringLiteral("%1: %2").arg(urls.value(i), s.detail);
    }
    return problems.join(QStringLiteral("; "));
}

} // namespace

const RedisScript &writeRecordScript()
{
    static const RedisScript script { QByteArray(WriteRecordLua) };
    return script;
}

// ---- JobRecord ---------------------------------------------------------------------------

bool JobRecord::isNewerThan(const JobRecord &o) const
{
    if (isNull())
        return false;
    if (o.isNull())
        return true;
    if (occurrenceMs != o.occurrenceMs)
        return occurrenceMs > o.occurrenceMs;
    if (startedMs != o.startedMs)
        return startedMs > o.startedMs;
    // The same run: its end is newer than its start.
    return finishedMs > o.finishedMs;
}

bool JobRecord::operator==(const JobRecord &o) const
{
    return resource == o.resource && occurrenceMs == o.occurrenceMs && startedMs == o.startedMs
            && finishedMs == o.finishedMs && holder == o.holder && outcome == o.outcome && reason == o.reason
            && durationMs == o.durationMs && fencingToken == o.fencingToken && schedule == o.schedule
            && timeZone == o.timeZone && oncePerPeriod == o.oncePerPeriod;
}

QVariantMap JobRecord::toVariantMap() const
{
    QVariantMap m;
    if (isNull())
        return m;
    m.insert(QStringLiteral("resource"), resource);
    m.insert(QStringLiteral("occurrence"), utc(occurrenceMs));
    m.insert(QStringLiteral("occurrenceMs"), occurrenceMs);
    m.insert(QStringLiteral("started"), utc(startedMs));
    m.insert(QStringLiteral("startedMs"), startedMs);
    m.insert(QStringLiteral("finished"), utc(finishedMs));
    m.insert(QStringLiteral("finishedMs"), finishedMs);
    m.insert(QStringLiteral("holder"), holder);
    m.insert(QStringLiteral("outcome"), outcome);
    m.insert(QStringLiteral("reason"), reason);
    m.insert(QStringLiteral("durationMs"), durationMs);
    m.insert(QStringLiteral("fencingToken"), fencingToken);
    m.insert(QStringLiteral("schedule"), schedule);
    m.insert(QStringLiteral("timeZone"), timeZone);
    m.insert(QStringLiteral("oncePerPeriod"), oncePerPeriod);
    return m;
}

QList<QByteArray> JobRecord::toFields() const
{
    const auto n = [](qint64 v) { return QByteArray::number(v); };
    return { QByteArrayLiteral("version"), n(RecordVersion),
             QByteArrayLiteral("resource"), resource.toUtf8(),
             QByteArrayLiteral("occurrence"), n(occurrenceMs),
             QByteArrayLiteral("started"), n(startedMs),
             QByteArrayLiteral("finished"), n(finishedMs),
             QByteArrayLiteral("holder"), holder.toUtf8(),
             QByteArrayLiteral("outcome"), outcome.toUtf8(),
             QByteArrayLiteral("reason"), reason.toUtf8(),
             QByteArrayLiteral("duration"), n(durationMs),
             QByteArrayLiteral("fencing"), n(fencingToken),
             QByteArrayLiteral("schedule"), schedule.toUtf8(),
             QByteArrayLiteral("zone"), timeZone.toUtf8(),
             QByteArrayLiteral("period"), n(oncePerPeriod) };
}

JobRecord JobRecord::fromFields(const RedisValue &v)
{
    JobRecord r;
    if (v.type != RedisValue::Type::Array || v.elements.size() % 2 != 0)
        return r;
    QVariantMap f;
    for (qsizetype i = 0; i + 1 < v.elements.size(); i += 2)
        f.insert(QString::fromUtf8(v.elements.at(i).string), QString::fromUtf8(v.elements.at(i + 1).string));
    const auto num = [&f](const char *name, qint64 fallback) {
        bool ok = false;
        const qint64 x = f.value(QLatin1String(name)).toString().toLongLong(&ok);
        return ok ? x : fallback;
    };
    const auto str = [&f](const char *name) { return f.value(QLatin1String(name)).toString(); };
    if (num("version", 0) != RecordVersion || str("outcome").isEmpty())
        return r;
    r.resource = str("resource");
    r.occurrenceMs = num("occurrence", -1);
    r.startedMs = num("started", -1);
    r.finishedMs = num("finished", -1);
    r.holder = str("holder");
    r.outcome = str("outcome");
    r.reason = str("reason");
    r.durationMs = num("duration", -1);
    r.fencingToken = num("fencing", -1);
    r.schedule = str("schedule");
    r.timeZone = str("zone");
    r.oncePerPeriod = num("period", 0);
    return r;
}

// ---- the rounds --------------------------------------------------------------------------

void LockManagerPrivate::writeRecord(const QString &lockResource, const QByteArray &token, const QString &resource,
                                     const JobRecord &record, qint64 ttlMs, RecordWritten done)
{
    if (connections.empty()) {
        QMetaObject::invokeMethod(q, [done] { done(false, QStringLiteral("the lock manager has no servers")); },
                                  Qt::QueuedConnection);
        return;
    }
    auto round = std::make_shared<QuorumRound>(int(connections.size()), quorum(), QuorumRound::Mode::Quorum,
                                               classifyWrite);
    const QStringList names = printableUrls();
    round->onDecided = [done, names](QuorumRound &r) {
        if (r.succeeded()) {
            done(true, QString());
            return;
        }
        int stale = 0;
        int newer = 0;
        for (const QuorumRound::Server &s : r.servers) {
            if (s.result == Result::Refused)
                ++(s.value.integer == 2 ? newer : stale);
        }
        QString why = QStringLiteral("the job record was written on %1 of %2 servers (quorum %3)")
                              .arg(r.granted).arg(r.size()).arg(r.quorum);
        if (stale > 0)
            why += QStringLiteral("; %1 no longer hold this run's lock").arg(stale);
        if (newer > 0)
            why += QStringLiteral("; %1 have a later occurrence on record").arg(newer);
        const QString problems = problemsOf(r, names);
        done(false, problems.isEmpty() ? why : why + QStringLiteral(": ") + problems);
    };
    QList<QByteArray> args { token, QByteArray::number(ttlMs), QByteArray::number(record.occurrenceMs) };
    args += record.toFields();
    runScript(round, writeRecordScript(), keysFor({ lockResource }) << recordKeyFor(resource), args);
}

void LockManagerPrivate::readRecord(const QString &resource, RecordRead done)
{
    if (connections.empty()) {
        const QString why = QStringLiteral("the lock manager has no servers%1")
                                    .arg(errorString.isEmpty() ? QString() : u": " + errorString);
        QMetaObject::invokeMethod(q, [done, why] { done(false, JobRecord(), why); }, Qt::QueuedConnection);
        return;
    }
    auto round = std::make_shared<QuorumRound>(int(connections.size()), quorum(), QuorumRound::Mode::Quorum,
                                               classifyRead);
    const QStringList names = printableUrls();
    round->onDecided = [done, names](QuorumRound &r) {
        if (!r.succeeded()) {
            done(false, JobRecord(),
                 QStringLiteral("the job record could be read from %1 of %2 servers (quorum %3): %4")
                         .arg(r.granted).arg(r.size()).arg(r.quorum).arg(problemsOf(r, names)));
            return;
        }
        JobRecord newest;
        for (const QuorumRound::Server &s : r.servers) {
            if (s.result != Result::Granted)
                continue;
            const JobRecord rec = JobRecord::fromFields(s.value);
            if (rec.isNewerThan(newest))
                newest = rec;
        }
        done(true, newest, QString());
    };
    run(round, { QByteArrayLiteral("HGETALL"), recordKeyFor(resource) });
}

} // namespace QRedlock
