// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The hiredis side of reading replies: a reader whose value builders are charged to a
// ReplyBudget, and the conversion of hiredis replies to owned RedisValues. No hiredis type
// escapes this file and redisconnection.cpp.
#pragma once

#include "redisconnection_p.h"

struct redisReader;
struct redisReply;

namespace QRedlock {

// A reader whose every value is charged to *budget (reset here); nullptr when out of memory.
redisReader *createGuardedReader(ReplyBudget *budget);
RedisValue toRedisValue(const redisReply *reply);

} // namespace QRedlock
