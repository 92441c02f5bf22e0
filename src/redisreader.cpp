// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "redisreader_p.h"

#include <hiredis/hiredis.h>

#include <algorithm>

namespace QRedlock {

RedisValue toRedisValue(const redisReply *r)
{
    RedisValue v;
    switch (r->type) {
    case REDIS_REPLY_STRING:
        v.type = RedisValue::Type::String;
        v.string = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_STATUS:
        v.type = RedisValue::Type::Status;
        v.string = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_ERROR:
        v.type = RedisValue::Type::Error;
        v.string = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_INTEGER:
        v.type = RedisValue::Type::Integer;
        v.integer = r->integer;
        break;
    case REDIS_REPLY_ARRAY:
        v.type = RedisValue::Type::Array;
        v.elements.reserve(qsizetype(r->elements));
        for (size_t i = 0; i < r->elements; ++i)
            v.elements.append(toRedisValue(r->element[i]));
        break;
    case REDIS_REPLY_NIL:
    default:
        v.type = RedisValue::Type::Nil;
        break;
    }
    return v;
}

namespace {

// Every value hiredis builds for a reply is charged to the reading connection's budget
// (through the reader's privdata, which hiredis copies into every read task). hiredis 0.14
// allocates an array's element table as soon as it reads the count, so the 13 bytes
// "*2147483647\r\n" would ask for 16 GB (found by fuzzing); here they exceed the budget at
// once. A builder that returns nullptr fails the reader ("Out of memory"); processReplies()
// then reports the real reason and drops the connection.
constexpr qsizetype ValueOverhead = 64; // a redisReply, and the RedisValue made from it
redisReplyObjectFunctions guardedReplyFunctions;
redisReplyObjectFunctions hiredisReplyFunctions;

bool charge(const redisReadTask *task, qsizetype bytes)
{
    auto *budget = static_cast<ReplyBudget *>(task->privdata);
    if (!budget)
        return true;
    budget->used += bytes;
    if (budget->used <= RedisConnection::MaxReplyBytes)
        return true;
    budget->exceeded = true;
    return false;
}

void *createStringGuarded(const redisReadTask *task, char *str, size_t len)
{
    return charge(task, qsizetype(len) + ValueOverhead) ? hiredisReplyFunctions.createString(task, str, len) : nullptr;
}

void *createArrayGuarded(const redisReadTask *task, int elements)
{
    const qsizetype table = qsizetype(std::max(elements, 0)) * qsizetype(sizeof(void *) + sizeof(RedisValue));
    return charge(task, table + ValueOverhead) ? hiredisReplyFunctions.createArray(task, elements) : nullptr;
}

void *createIntegerGuarded(const redisReadTask *task, long long value)
{
    return charge(task, ValueOverhead) ? hiredisReplyFunctions.createInteger(task, value) : nullptr;
}

void *createNilGuarded(const redisReadTask *task)
{
    return charge(task, ValueOverhead) ? hiredisReplyFunctions.createNil(task) : nullptr;
}

} // namespace

redisReader *createGuardedReader(ReplyBudget *budget)
{
    redisReader *reader = redisReaderCreate();
    if (!reader)
        return nullptr;
    static const bool guarded = [reader] {
        hiredisReplyFunctions = *reader->fn;
        guardedReplyFunctions = hiredisReplyFunctions;
        guardedReplyFunctions.createString = createStringGuarded;
        guardedReplyFunctions.createArray = createArrayGuarded;
        guardedReplyFunctions.createInteger = createIntegerGuarded;
        guardedReplyFunctions.createNil = createNilGuarded;
        return true;
    }();
    Q_UNUSED(guarded);
    reader->fn = &guardedReplyFunctions;
    *budget = ReplyBudget();
    reader->privdata = budget;
    return reader;
}
} // namespace QRedlock
