// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The shared data of LockInfo, filled in by LockInspectionPrivate.
#pragma once

#include "lockinfo.h"

#include <QtCore/QSharedData>

namespace QRedlock {

class LockInfoData : public QSharedData
{
public:
    LockInfo::State state = LockInfo::State::Unknown;
    QString resource;
    QString holder;
    QByteArray token;
    int remainingTtl = -1;
    qint64 fencingCounter = -1;
    int holderServers = 0;
    int answeredServers = 0;
    QVariantList servers;
    QString errorString;
};

} // namespace QRedlock
