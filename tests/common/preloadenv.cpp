// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "preloadenv.h"

namespace QRedlockTest {

void preloadLibrary(QProcessEnvironment &env, const QString &library)
{
    const QString existing = env.value(QStringLiteral("LD_PRELOAD"));
    env.insert(QStringLiteral("LD_PRELOAD"), existing.isEmpty() ? library : library + u':' + existing);
    const QString asan = env.value(QStringLiteral("ASAN_OPTIONS"));
    env.insert(QStringLiteral("ASAN_OPTIONS"),
               (asan.isEmpty() ? QString() : asan + u':') + QStringLiteral("verify_asan_link_order=0"));
}

} // namespace QRedlockTest
