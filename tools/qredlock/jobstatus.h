// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// `qredlock status --job R`: the job record of a scheduled job (SingletonJob or `qredlock
// schedule`), read through the library, with the next occurrence.
#pragma once

#include "cli.h"

#include <QtCore/QObject>

#include <QRedlock/LockManager>
#include <QRedlock/SingletonJob>

namespace QRedlockCli {

class JobStatus : public QObject
{
    Q_OBJECT

public:
    explicit JobStatus(const Settings &settings, QObject *parent = nullptr);

    // Returns -1 when under way (finished() follows), else an exit code.
    int start();

Q_SIGNALS:
    void finished(int exitCode);

private:
    int report();

    Settings m_settings;
    QRedlock::LockManager m_manager;
    QRedlock::SingletonJob m_job;
};

} // namespace QRedlockCli
