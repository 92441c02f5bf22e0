// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The scheduled-job mode of qredlock_safety_worker (--job): a SingletonJob on a one-second
// schedule instead of a lock loop. See jobworker.cpp.
#pragma once

#include "workerconfig.h"

namespace QRedlockSafety {

// Runs the job until --seconds are over; returns the exit code.
int runJobWorker(const WorkerConfig &config);

} // namespace QRedlockSafety
