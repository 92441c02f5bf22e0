// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The scheduled-job mode of qredlock_safety_worker (--job): a SingletonJob on a one-second
// schedule instead of a lock loop. See jobworker.cpp.
#pragma once

#include <QString>
#include <QStringList>

namespace QRedlockSafety {

struct JobWorkerConfig
{
    QStringList servers;
    QString resource;
    int id = 0;
    int ttl = 1000;          // lockAtMostFor
    int rmwMaxMs = 5;
    double seconds = 10;
    int retryDelay = 50;
    int retryJitter = 25;
    int serverTimeout = 100;
    double driftFactor = 0.01;
    QString counterPath;
    QString logPath;
};

// Runs the job until --seconds are over; returns the exit code.
int runJobWorker(const JobWorkerConfig &config);

} // namespace QRedlockSafety
