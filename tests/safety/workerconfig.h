// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The settings of one qredlock_safety_worker, as its command line gives them (worker.cpp
// parses them; the lock loop and the scheduled-job mode both read them).
#pragma once

#include <QString>
#include <QStringList>

namespace QRedlockSafety {

struct WorkerConfig
{
    QStringList servers;
    QString resource = QStringLiteral("safety");
    int id = 0;
    int ttl = 1000;           // the lock's TTL; a job's lockAtMostFor
    bool autoExtend = false;
    bool notifications = true;
    int holdMinMs = 5;
    int holdMaxMs = 200;
    int rmwMaxMs = 5;
    double seconds = 10;
    quint64 seed = 1;
    int retryDelay = 50;
    int retryJitter = 25;
    int serverTimeout = 100;
    double driftFactor = 0.01;
    QString counterPath;
    QString logPath;
    bool job = false;         // run as an instance of a scheduled job (jobworker.cpp)
};

} // namespace QRedlockSafety
