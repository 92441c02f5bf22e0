// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// `qredlock status` and `qredlock release`: through the library's LockManager::inspect() and
// LockManager::forceRelease(), then a report. The tool has no Redis client of its own.
#pragma once

#include "cli.h"

#include <QtCore/QObject>

#include <QRedlock/LockInfo>
#include <QRedlock/LockManager>

namespace QRedlockCli {

class ServerSweep : public QObject
{
    Q_OBJECT

public:
    explicit ServerSweep(const Settings &settings, QObject *parent = nullptr);

    // Returns -1 when under way (finished() follows), else an exit code.
    int start();

Q_SIGNALS:
    void finished(int exitCode);

private:
    // Each prints its report and returns the exit code.
    int reportStatus(const QRedlock::LockInfo &info) const;
    int reportRelease(const QRedlock::LockInfo &info) const;

    Settings m_settings;
    QRedlock::LockManager m_manager;
};

} // namespace QRedlockCli
