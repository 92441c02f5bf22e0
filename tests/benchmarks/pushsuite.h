// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The push-coordination part of `lockbench suite` (LockManager::notifications): handoff with
// 2 and 16 contenders, the servers' load while 100 waiters wait, and the time to lost(); push
// beside polling and node-redlock, each ratio within this run. Its own table.
#pragma once

#include <QtCore/QJsonObject>
#include <QtCore/QString>
#include <QtCore/QStringList>

#include <functional>

namespace LockBench {

class Options;

// Runs `lockbench ARGS...` in a child process (the suite's default dispatcher) and returns
// its JSON line, or {"error": ...}.
using ChildRunner = std::function<QJsonObject(const QStringList &args, int timeoutMs)>;

// The measurements, against the three servers `urls` (fresh ones for the loss runs).
QJsonObject measurePush(const Options &options, const QStringList &urls, const ChildRunner &runChild);

// The markdown table of those measurements, with targets and results.
QString pushTable(const QJsonObject &push);

} // namespace LockBench
