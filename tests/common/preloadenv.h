// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Preloading a shim library (a clock offset, libfaketime) into a child test process.
#pragma once

#include <QtCore/QProcessEnvironment>
#include <QtCore/QString>

namespace QRedlockTest {

// Puts `library` into the environment's LD_PRELOAD and tells a sanitizer runtime not to refuse
// to start because it is no longer first in the library list (a sanitizer build of the child
// aborts otherwise, before it prints a line).
void preloadLibrary(QProcessEnvironment &env, const QString &library);

} // namespace QRedlockTest
