// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "duration.h"

#include <cmath>

namespace QRedlockCli {

namespace {

// ms per unit, or 0 when the unit is unknown.
qint64 unitMs(QStringView unit)
{
    struct Unit { const char *name; qint64 ms; };
    static constexpr Unit units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 }, { "d", 24 * 3600 * 1000 },
    };
    for (const Unit &u : units) {
        if (unit == QLatin1String(u.name))
            return u.ms;
    }
    return 0;
}

Duration failure(const QString &message)
{
    Duration d;
    d.error = message;
    return d;
}

} // namespace

Duration Duration::parse(const QString &text, qint64 bareUnitMs, qint64 maximumMs)
{
    if (text.isEmpty())
        return failure(QStringLiteral("an empty duration"));
    qsizetype i = 0;
    const bool negative = text.at(0) == u'-';
    if (negative)
        ++i;
    const qsizetype digitsStart = i;
    bool sawDigit = false, sawPoint = false;
    for (; i < text.size(); ++i) {
        const QChar c = text.at(i);
        if (c.isDigit() && c.unicode() < 128) {
            sawDigit = true;
        } else if (c == u'.' && !sawPoint) {
            sawPoint = true;
        } else {
            break;
        }
    }
    if (!sawDigit)
        return failure(QStringLiteral("'%1' is not a duration (expected a number with an optional unit "
                                      "ms, s, m, h or d, e.g. 1500ms or 30s)").arg(text));
    const QStringView number = QStringView(text).mid(digitsStart, i - digitsStart);
    const QStringView unit = QStringView(text).mid(i);
    qint64 scale = bareUnitMs;
    if (!unit.isEmpty()) {
        scale = unitMs(unit);
        if (scale == 0)
            return failure(QStringLiteral("unknown unit '%1' in '%2' (use ms, s, m, h or d)").arg(unit.toString(), text));
    }
    bool ok = false;
    const double value = number.toDouble(&ok);
    if (!ok || !std::isfinite(value))
        return failure(QStringLiteral("'%1' is not a duration").arg(text));
    const double ms = std::round(value * double(scale));
    if (ms > double(maximumMs))
        return failure(QStringLiteral("'%1' is too long (at most %2 days)").arg(text).arg(maximumMs / (24 * 3600 * 1000)));
    Duration d;
    d.ok = true;
    d.ms = negative ? -qint64(ms) : qint64(ms);
    return d;
}

} // namespace QRedlockCli
