// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The Lua scripts of the lock rounds. Each comment gives the KEYS / ARGV layout the script
// expects; LockManagerPrivate builds them (the key schema is there).
#include "lockscripts_p.h"

namespace QRedlock::LockScripts {

namespace {

// All keys on one server are taken together or not at all.
const char AcquireMultiLua[] = R"lua(
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
return 1
)lua";

// KEYS: n lock keys, then their n fencing counters. Returns {granted, highest counter}.
const char AcquireFencedLua[] = R"lua(
local n = #KEYS / 2
local top = 0
for i = n + 1, #KEYS do
  local c = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  if c > top then top = c end
end
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 1 then return {0, top} end
end
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
return {1, top}
)lua";

// Raises the counters to ARGV[2] ("set if greater"), only while we still hold every key.
const char RaiseFenceLua[] = R"lua(
local n = #KEYS / 2
for i = 1, n do
  if redis.call('GET', KEYS[i]) ~= ARGV[1] then return 0 end
end
local v = tonumber(ARGV[2])
for i = n + 1, #KEYS do
  local c = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  if c < v then redis.call('SET', KEYS[i], ARGV[2]) end
end
return 1
)lua";

// Compare-and-PEXPIRE with quorum repair. KEYS: n lock keys (then, with fencing, their n
// counters); ARGV: token, ttl[, fencing token]. Returns 1 when every key held our token and
// was renewed; 0 when any key holds another token (nothing changes); 2 when some keys were
// absent (the server restarted empty, or expired them early) and were re-created with our
// token beside the renewed ones. A repair never overwrites a key (SET NX), and with fencing
// happens only where no counter is above our token, which it then raises to ours. The
// client counts only 1 toward the quorum, so a lock that lapsed is never brought back.
// Each key is read last: our own write dropped it from the caller's client tracking.
const char ExtendLua[] = R"lua(
local fence = tonumber(ARGV[3])
local n = fence and #KEYS / 2 or #KEYS
local missing = 0
for i = 1, n do
  local v = redis.call('GET', KEYS[i])
  if v == false then missing = missing + 1 elseif v ~= ARGV[1] then return 0 end
end
if missing > 0 and fence then
  for i = n + 1, #KEYS do
    if (tonumber(redis.call('GET', KEYS[i]) or '0') or 0) > fence then return 0 end
  end
end
for i = 1, n do
  if redis.call('PEXPIRE', KEYS[i], ARGV[2]) == 0 then
    redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2])
  end
  redis.call('PTTL', KEYS[i]) -- read after our write: client tracking watches the key again
end
if missing == 0 then return 1 end
if fence then
  for i = n + 1, #KEYS do
    if (tonumber(redis.call('GET', KEYS[i]) or '0') or 0) < fence then redis.call('SET', KEYS[i], ARGV[3]) end
  end
end
return 2
)lua";

// The handoff queue, shared by the queued acquire and the release (prepended to both).
// Per lock key, two sorted sets (LockManagerPrivate::withQueues()): the waiters in the order
// they began waiting (score: the client's clock when its acquire() began; ties by id, so that
// every server orders the same waiters alike) and the same waiters by the server time (ms)
// at which their entry dies unless an attempt refreshes it. A free key is reserved for the
// head by the release: its value becomes 'qredlock-handoff:<id>' for at most the head's
// remaining entry life; the head's entry then lives no longer than its reservation.
const char HandoffLua[] = R"lua(
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function purge(q, e, now)
  local dead = redis.call('ZRANGEBYSCORE', e, '-inf', now, 'LIMIT', 0, 100)
  if #dead > 0 then
    redis.call('ZREM', e, unpack(dead))
    redis.call('ZREM', q, unpack(dead))
  end
end
local function reservation(id) return HANDOFF_PREFIX .. id end
)lua";

// A waiter's attempt. KEYS: n lock keys, their n queues, their n expiry sets, then with
// fencing their n counters. ARGV: token, ttl, waiter id, arrival score, entry life (ms),
// '1' with fencing, the longest reservation (ms). Takes every key when each is free (no live
// waiter ahead of us) or reserved for us; otherwise queues us (or refreshes our entry) and
// returns the longest PTTL of the keys held by others. A free key whose head is someone else
// cuts the head's entry to the reservation (a dead head must not hold the queue for a whole
// entry life; a live one comes back at once, woken by the key's change) and returns when that
// ends. Returns {granted, pttl (-1: none), highest counter}. Kept short, as every waiter runs
// it: the queue is purged only where the key is free (where its head matters), and the
// queue's two keys live twice the entry life, so that most refreshes leave them alone.
const char AcquireQueuedLua[] = R"lua(
local fenced = ARGV[6] == '1'
local n = #KEYS / (fenced and 4 or 3)
local id = ARGV[3]
local now = now_ms()
local mine = reservation(id)
local free, wait, top = true, -1, 0
for i = 1, n do
  local q, e = KEYS[n + i], KEYS[2 * n + i]
  local v = redis.call('GET', KEYS[i])
  if v == false then
    purge(q, e, now)
    local head = redis.call('ZRANGE', q, 0, 0)[1]
    if head and head ~= id then
      free = false
      local cut = now + tonumber(ARGV[7])
      local ends = tonumber(redis.call('ZSCORE', e, head)) or now
      if ends > cut then
        redis.call('ZADD', e, cut, head)
        ends = cut
      end
      if ends - now > wait then wait = ends - now end
    end
  elseif v ~= mine then
    free = false
    local p = redis.call('PTTL', KEYS[i])
    if p > wait then wait = p end
  end
end
if fenced then
  for i = 3 * n + 1, 4 * n do
    local c = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
    if c > top then top = c end
  end
end
if free then
  for i = 1, n do
    redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
    redis.call('ZREM', KEYS[n + i], id)
    redis.call('ZREM', KEYS[2 * n + i], id)
  end
  return {1, -1, top}
end
local life = tonumber(ARGV[5])
for i = 1, n do
  local q, e = KEYS[n + i], KEYS[2 * n + i]
  redis.call('ZADD', q, 'NX', ARGV[4], id)
  redis.call('ZADD', e, now + life, id)
  if redis.call('PTTL', e) < life then
    redis.call('PEXPIRE', q, 2 * life)
    redis.call('PEXPIRE', e, 2 * life)
  end
end
return {0, wait, top}
)lua";

// Compare-and-DEL, then the handoff. KEYS: n lock keys; ARGV: token, the longest reservation
// (ms)[, the id of a waiter that leaves the queue: its entry and a key reserved for it go
// too]. Each key's queue and expiry set and its release channel are the key with the suffixes
// of LockManagerPrivate's key schema (QUEUE_SUFFIX, EXPIRY_SUFFIX, CHANNEL_SUFFIX, put in
// when the script is built): an uncontended release sends no more than the old
// compare-and-DEL, whose arguments were most of its cost on the server. Where a live waiter
// is queued, the head's id is PUBLISHed on the key's channel and the freed key is reserved
// for the head. The publish goes first: every subscriber hears whose turn it is before the
// change to the key that client tracking reports to it, so a waiter need not look at the key
// to learn it (pcall: an ACL that denies PUBLISH leaves the waiters to their timers).
// Returns how many keys were ours and are now gone.
// (Split around the queue's functions, which only a release with waiters defines: the
// release of an uncontended lock stays GET, EXISTS and DEL.)
const char ReleaseLua[] = R"lua(
local me = ARGV[3]
local count = 0
for i = 1, #KEYS do
  local k = KEYS[i]
  local v = redis.call('GET', k)
  local ours = v == ARGV[1]
  local freed = ours or (me ~= nil and v == HANDOFF_PREFIX .. me)
  if ours then count = count + 1 end
  local q = k .. QUEUE_SUFFIX
  if me then
    redis.call('ZREM', q, me)
    redis.call('ZREM', k .. EXPIRY_SUFFIX, me)
  end
  local reserved = false
  if freed and redis.call('EXISTS', q) == 1 then
    local e = k .. EXPIRY_SUFFIX
)lua";
const char ReleaseHandoffLua[] = R"lua(
    local now = now_ms()
    purge(q, e, now)
    local head = redis.call('ZRANGE', q, 0, 0)[1]
    if head then
      redis.pcall('PUBLISH', k .. CHANNEL_SUFFIX, head)
      local left = math.floor((tonumber(redis.call('ZSCORE', e, head)) or now) - now)
      local hold = math.min(left, tonumber(ARGV[2]))
      if hold > 0 then
        redis.call('SET', k, reservation(head), 'PX', hold)
        redis.call('ZADD', e, now + hold, head) -- a dead head holds the queue this long at most
        reserved = true
      end
    end
  end
  if freed and not reserved then redis.call('DEL', k) end
end
return count
)lua";

// Compare-and-DEL alone, for the cleanup of an attempt that a minority granted: those keys are
// no handoff (handing them to the next waiter sent it after a quorum it could not have, whose
// cleanup handed them on again: a chain of split rounds through the whole queue). Returns how
// many keys were ours and are now gone.
const char DeleteOwnLua[] = R"lua(
local count = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    count = count + 1
  end
end
return count
)lua";

// The holder's re-check after a change was reported: 1 while every key holds our token.
const char CheckLua[] = R"lua(
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[1] then return 0 end
end
return 1
)lua";

// Inspection. KEYS: the lock key, its fencing counter. Returns {kind, value, pttl, counter}:
// kind 0 no key, 1 a string (a lock value), 2 another type (value: its name).
const char InspectLua[] = R"lua(
local t = redis.call('TYPE', KEYS[1]).ok
local c = redis.call('TYPE', KEYS[2]).ok == 'string' and redis.call('GET', KEYS[2]) or false
if t == 'none' then return {0, false, -2, c} end
local p = redis.call('PTTL', KEYS[1])
if t ~= 'string' then return {2, t, p, c} end
return {1, redis.call('GET', KEYS[1]), p, c}
)lua";

// An operator's release. ARGV[1]: the holder's token, or '' for whatever holds the key;
// ARGV[2]: the release channel's suffix. Returns {removed (0/1), the value that was there (or
// false)}; never deletes a non-string. A removal is published with an empty payload (anyone
// may try; pcall: an ACL that denies PUBLISH leaves the waiters to their timers).
const char ForceReleaseLua[] = R"lua(
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'string' then return {0, false} end
local v = redis.call('GET', KEYS[1])
if ARGV[1] == '' or v == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.pcall('PUBLISH', KEYS[1] .. ARGV[2], '')
  return {1, v}
end
return {0, v}
)lua";

// The value of a key reserved for a waiter: this prefix and the waiter's id.
const char HandoffPrefix[] = "'qredlock-handoff:'";

QByteArray withHandoffPrefix(QByteArray script)
{
    return script.replace("HANDOFF_PREFIX", HandoffPrefix);
}

} // namespace

QByteArray acquireMulti() { return QByteArray(AcquireMultiLua); }
QByteArray acquireFenced() { return QByteArray(AcquireFencedLua); }
QByteArray raiseFence() { return QByteArray(RaiseFenceLua); }
QByteArray extend() { return QByteArray(ExtendLua); }
QByteArray release(const char *queueSuffix, const char *expirySuffix, const char *channelSuffix)
{
    const auto quoted = [](const char *text) { return QByteArray("'").append(text).append('\''); };
    return withHandoffPrefix(QByteArray(ReleaseLua).append(HandoffLua).append(ReleaseHandoffLua))
            .replace("QUEUE_SUFFIX", quoted(queueSuffix))
            .replace("EXPIRY_SUFFIX", quoted(expirySuffix))
            .replace("CHANNEL_SUFFIX", quoted(channelSuffix));
}
QByteArray inspect() { return QByteArray(InspectLua); }
QByteArray forceRelease() { return QByteArray(ForceReleaseLua); }
QByteArray acquireQueued() { return withHandoffPrefix(QByteArray(HandoffLua).append(AcquireQueuedLua)); }
QByteArray check() { return QByteArray(CheckLua); }
QByteArray deleteOwn() { return QByteArray(DeleteOwnLua); }

} // namespace QRedlock::LockScripts
