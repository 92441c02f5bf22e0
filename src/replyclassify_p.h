// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The reply classifiers of the lock rounds: each turns one server's reply to one command or
// script (LockScripts) into a QuorumRound result, filling the Server's pttl, counter, value
// or detail where the reply carries them. A transport failure is Timeout or Error.
#pragma once

#include "quorumround_p.h"

namespace QRedlock::ReplyClassify {

using Result = QuorumRound::Result;

Result classifySet(const RedisReply &reply, QuorumRound::Server &s);
Result classifyFlag(const RedisReply &reply, QuorumRound::Server &s);
Result classifyFenced(const RedisReply &reply, QuorumRound::Server &s);
Result classifyQueued(const RedisReply &reply, QuorumRound::Server &s);
Result classifyProbe(const RedisReply &reply, QuorumRound::Server &s);
Result classifyValue(const RedisReply &reply, QuorumRound::Server &s);
Result classifyExtend(const RedisReply &reply, QuorumRound::Server &s);
Result classifyRelease(const RedisReply &reply, QuorumRound::Server &s);
Result classifyInspect(const RedisReply &reply, QuorumRound::Server &s);
Result classifyForceRelease(const RedisReply &reply, QuorumRound::Server &s);

} // namespace QRedlock::ReplyClassify
