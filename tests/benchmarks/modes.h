// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// lockbench modes; each returns the process exit code and prints one JSON line.
#pragma once

namespace LockBench {

class Options;

int runLatency(const Options &options);
int runCycles(const Options &options);
int runThroughput(const Options &options);
int runHandoff(const Options &options);
int runHandoffChild(const Options &options);
int runScale(const Options &options);
int runServe(const Options &options);
int runSuite(const Options &options);
// push coordination (pushmodes.cpp)
int runFairHandoff(const Options &options);
int runFairHandoffChild(const Options &options);
int runWaitLoad(const Options &options);
int runLoss(const Options &options);

} // namespace LockBench
