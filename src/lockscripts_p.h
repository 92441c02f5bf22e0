// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The Lua scripts of the lock rounds (lockscripts.cpp), as their sources.
#pragma once

#include <QtCore/QByteArray>

namespace QRedlock::LockScripts {

QByteArray acquireMulti();  // n keys together or none
QByteArray acquireFenced(); // n keys + their counters: {granted, highest counter}
QByteArray raiseFence();    // counters "set if greater" while we hold every key
QByteArray extend();        // compare-and-PEXPIRE with quorum repair
// compare-and-DEL, then the handoff to the head of the waiters' queue; the queue keys and the
// release channel are the lock key with these suffixes
QByteArray release(const char *queueSuffix, const char *expirySuffix, const char *channelSuffix);
QByteArray inspect();       // {kind, value, pttl, counter}
QByteArray forceRelease();  // an operator's release
QByteArray acquireQueued(); // a waiter's attempt: take the keys, or queue
QByteArray check();         // 1 while every key holds our token
QByteArray deleteOwn();     // compare-and-DEL without the handoff (a minority's cleanup)

} // namespace QRedlock::LockScripts
