// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Durations on the command line: "1500" (bare: in the option's own unit), "1500ms", "30s",
// "1.5s", "5m", "1h", "2d". One rule for every option that takes a time.
#pragma once

#include <QtCore/QString>

namespace QRedlockCli {

struct Duration
{
    bool ok = false;
    qint64 ms = 0;
    QString error;  // when !ok: what is wrong, naming the text (e.g. "unknown unit 'sec' in '10sec'")

    // Parses text. A bare number counts in units of bareUnitMs (1: milliseconds; 1000: seconds,
    // as flock(1)'s -w). Fractions are allowed ("1.5s", "0.25"); the result is rounded to the
    // nearest millisecond and must be at most maximumMs. A leading '-' is read as a negative value
    // (so that callers can say "must be positive" rather than "not a number").
    static Duration parse(const QString &text, qint64 bareUnitMs = 1, qint64 maximumMs = Maximum);

    // Ten years: longer is surely a typo, and it keeps every sum of durations far from overflow.
    static constexpr qint64 Maximum = qint64(10) * 366 * 24 * 3600 * 1000;
};

} // namespace QRedlockCli
