// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Internal logging categories of QRedlock. Default level: warning.
// Tokens may appear at debug level only; passwords never appear at all.
#pragma once

#include <QtCore/QLoggingCategory>

namespace QRedlock {
Q_DECLARE_LOGGING_CATEGORY(lcConnection)
Q_DECLARE_LOGGING_CATEGORY(lcManager)
Q_DECLARE_LOGGING_CATEGORY(lcLock)
Q_DECLARE_LOGGING_CATEGORY(lcJob)
} // namespace QRedlock
