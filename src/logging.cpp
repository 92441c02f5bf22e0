// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "logging_p.h"

namespace QRedlock {
Q_LOGGING_CATEGORY(lcConnection, "qredlock.connection", QtWarningMsg)
Q_LOGGING_CATEGORY(lcManager, "qredlock.manager", QtWarningMsg)
Q_LOGGING_CATEGORY(lcLock, "qredlock.lock", QtWarningMsg)
Q_LOGGING_CATEGORY(lcJob, "qredlock.job", QtWarningMsg)
} // namespace QRedlock
