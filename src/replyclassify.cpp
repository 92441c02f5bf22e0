// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// How each round reads one server's reply (see replyclassify_p.h).
#include "replyclassify_p.h"

namespace QRedlock::ReplyClassify {

namespace {

Result failureResult(const RedisReply &reply, QuorumRound::Server &s)
{
    s.detail = reply.errorString;
    return reply.failure == RedisFailure::Timeout ? Result::Timeout : Result::Error;
}

} // namespace

Result classifySet(const RedisReply &reply, QuorumRound::Server &s)
{
    if (!reply.ok())
        return failureResult(reply, s);
    if (reply.value.isStatus("OK"))
        return Result::Granted;
    if (reply.value.isNil())
        return Result::Refused;
    s.detail = reply.errorString.isEmpty() ? QStringLiteral("unexpected reply to SET") : reply.errorString;
    return Result::Error;
}

Result classifyFlag(const RedisReply &reply, QuorumRound::Server &s)
{
    if (!reply.ok())
        return failureResult(reply, s);
    if (reply.value.isInteger(1))
        return Result::Granted;
    if (reply.value.isInteger(0))
        return Result::Refused;
    s.detail = reply.errorString.isEmpty() ? QStringLiteral("unexpected reply to script") : reply.errorString;
    return Result::Error;
}

Result classifyFenced(const RedisReply &reply, QuorumRound::Server &s)
{
    if (!reply.ok())
        return failureResult(reply, s);
    const RedisValue &v = reply.value;
    if (v.type == RedisValue::Type::Array && v.elements.size() == 2
        && v.elements.at(0).type == RedisValue::Type::Integer && v.elements.at(1).type == RedisValue::Type::Integer) {
        s.counter = v.elements.at(1).integer;
        return v.elements.at(0).integer == 1 ? Result::Granted : Result::Refused;
    }
    s.detail = reply.errorString.isEmpty() ? QStringLiteral("unexpected reply to fenced acquire") : reply.errorString;
    return Result::Error;
}

// {granted, pttl of the keys held by others, highest counter}
Result classifyQueued(const RedisReply &reply, QuorumRound::Server &s)
{
    if (!reply.ok())
        return failureResult(reply, s);
    const RedisValue &v = reply.value;
    if (v.type == RedisValue::Type::Array && v.elements.size() == 3) {
        s.pttl = v.elements.at(1).integer;
        s.counter = v.elements.at(2).integer;
        return v.elements.at(0).integer == 1 ? Result::Granted : Result::Refused;
    }
    s.detail = reply.errorString.isEmpty() ? QStringLiteral("unexpected reply to queued acquire") : reply.errorString;
    return Result::Error;
}

// PTTL: -2 (no key) is Granted (free), anything else Refused with the PTTL (-1: no expiry).
Result classifyProbe(const RedisReply &reply, QuorumRound::Server &s)
{
    if (!reply.ok())
        return failureResult(reply, s);
    if (reply.value.type != RedisValue::Type::Integer) {
        s.detail = reply.errorString.isEmpty() ? QStringLiteral("unexpected reply to PTTL") : reply.errorString;
        return Result::Error;
    }
    s.pttl = reply.value.integer;
    return s.pttl == -2 ? Result::Granted : Result::Refused;
}

// GET: the value (nil included), Granted wherever the server answered.
Result classifyValue(const RedisReply &reply, QuorumRound::Server &s)
{
    if (!reply.ok())
        return failureResult(reply, s);
    s.value = reply.value;
    return Result::Granted;
}

Result classifyExtend(const RedisReply &reply, QuorumRound::Server &s)
{
    if (reply.ok() && reply.value.isInteger(2))
        return Result::Repaired;
    return classifyFlag(reply, s);
}

Result classifyRelease(const RedisReply &reply, QuorumRound::Server &s)
{
    if (!reply.ok())
        return failureResult(reply, s);
    if (reply.value.type == RedisValue::Type::Integer)
        return reply.value.integer > 0 ? Result::Granted : Result::Refused;
    s.detail = reply.errorString.isEmpty() ? QStringLiteral("unexpected reply to release") : reply.errorString;
    return Result::Error;
}

Result classifyInspect(const RedisReply &reply, QuorumRound::Server &s)
{
    if (!reply.ok())
        return failureResult(reply, s);
    if (reply.value.type == RedisValue::Type::Array && reply.value.elements.size() == 4
        && reply.value.elements.at(0).type == RedisValue::Type::Integer) {
        s.value = reply.value;
        return Result::Granted;
    }
    s.detail = reply.errorString.isEmpty() ? QStringLiteral("unexpected reply to inspection") : reply.errorString;
    return Result::Error;
}

// Granted: removed; Refused: nothing removed (absent, or another token).
Result classifyForceRelease(const RedisReply &reply, QuorumRound::Server &s)
{
    if (!reply.ok())
        return failureResult(reply, s);
    const RedisValue &v = reply.value;
    if (v.type == RedisValue::Type::Array && v.elements.size() == 2 && v.elements.at(0).type == RedisValue::Type::Integer) {
        s.value = v;
        return v.elements.at(0).integer == 1 ? Result::Granted : Result::Refused;
    }
    s.detail = reply.errorString.isEmpty() ? QStringLiteral("unexpected reply to release") : reply.errorString;
    return Result::Error;
}

} // namespace QRedlock::ReplyClassify
