// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "lockinfo.h"

#include "lockinfo_p.h"

namespace QRedlock {

LockInfo::LockInfo() : d(new LockInfoData) { }
LockInfo::LockInfo(const LockInfo &other) = default;
LockInfo &LockInfo::operator=(const LockInfo &other) = default;
LockInfo::~LockInfo() = default;

LockInfo::State LockInfo::state() const { return d->state; }
QString LockInfo::resource() const { return d->resource; }
QString LockInfo::holder() const { return d->holder; }
QByteArray LockInfo::token() const { return d->token; }
int LockInfo::remainingTtl() const { return d->remainingTtl; }
qint64 LockInfo::fencingCounter() const { return d->fencingCounter; }
int LockInfo::holderServers() const { return d->holderServers; }
int LockInfo::answeredServers() const { return d->answeredServers; }
QVariantList LockInfo::servers() const { return d->servers; }
QString LockInfo::errorString() const { return d->errorString; }

} // namespace QRedlock
