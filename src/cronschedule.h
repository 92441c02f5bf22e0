// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// CronSchedule: a parsed cron expression (Vixie-cron fields, optional seconds field) that
// computes its next fire time in a time zone.
#pragma once

#include "qredlock_export.h"

#include <QtCore/QDateTime>
#include <QtCore/QMetaType>
#include <QtCore/QObject>
#include <QtCore/QSharedDataPointer>
#include <QtCore/QString>
#include <QtCore/QTimeZone>

namespace QRedlock {

class CronScheduleData;

/*!
    A cron schedule: a value type (implicitly shared, cheap to copy) made from a cron
    expression, that tells when the schedule fires next in a given time zone.

    Syntax: five fields `minute hour day-of-month month day-of-week` (Vixie cron), or six
    with a leading `second` field (Quartz / Spring). Fields are separated by any run of
    spaces or tabs; leading and trailing spaces and tabs are ignored. Each field is a
    comma-separated list of items; an item is `*`, a value `a`, a range `a-b`, or one of
    these with a step: `*`/n, `a-b/n`, and `a/n`, which means
    `a-max/n` (from a to the field's largest value). Ranges: second and minute 0-59, hour
    0-23, day-of-month 1-31, month 1-12 or `JAN`..`DEC`, day-of-week 0-6 (0 = Sunday) or
    `SUN`..`SAT`. Names are three letters in any case and are allowed in ranges
    (`MON-FRI`). Day-of-week 7 is refused (write 0 for Sunday). A step must be at least 1
    and at most the number of values of its field.

    Macros (the whole expression): `@yearly` and `@annually` (`0 0 1 1 *`), `@monthly`
    (`0 0 1 * *`), `@weekly` (`0 0 * * 0`), `@daily` and `@midnight` (`0 0 * * *`),
    `@hourly` (`0 * * * *`), in any case.

    Day-of-month and day-of-week combine as in Vixie cron: when neither field begins with
    `*`, a day that matches either of them fires; when either begins with `*` (`*`,
    `*`/2, ...), a day must match both.

    Daylight-saving time (next()): a schedule whose hour field's text begins with `*`
    (`*`, `*`/n, or a list whose first item is one of these) follows real time: it fires
    at every instant whose local wall-clock time matches, so in a fall-back overlap both
    occurrences of a matching wall time fire and in a spring-forward gap the skipped wall
    times never fire. Every other schedule (its hour field begins with a value: a value,
    a list, a range, a range with a step, `a/n`) has fixed wall-clock times: the matching
    wall times that a gap skips fire once together, at the first instant after the gap
    (the transition itself), and a wall time that happens twice fires once, at its first
    occurrence. Only the hour field decides: `* 2 * * *` has fixed wall-clock times (every
    minute of the first 02:00-02:59, none of the repeated hour; one fire at the end of a
    gap), while Vixie cron, which also looks for a leading `*` in the minute field, would
    run it in real time.

    An invalid expression gives isValid() false and an errorString() that names the field
    and the token, e.g. `day-of-week: "8" is out of range 0-6`.
*/
class QREDLOCK_EXPORT CronSchedule
{
    Q_GADGET
    Q_PROPERTY(bool valid READ isValid)
    Q_PROPERTY(QString errorString READ errorString)
    Q_PROPERTY(QString expression READ expression)

public:
    /*!
        Makes an invalid schedule with the empty expression; errorString() is
        "empty expression".
    */
    CronSchedule();
    /*!
        Parses \a expression (see the class description). The result is invalid, with an
        errorString(), when the expression is not well formed.
    */
    explicit CronSchedule(const QString &expression);
    /*! Makes a copy of \a other; the parsed data is shared. */
    CronSchedule(const CronSchedule &other);
    /*! Makes this schedule a copy of \a other. */
    CronSchedule &operator=(const CronSchedule &other);
    /*! Destroys the schedule. */
    ~CronSchedule();

    /*! True when the expression parsed without error. */
    bool isValid() const;
    /*!
        Empty when the schedule is valid; otherwise what is wrong, naming the field and the
        token, e.g. `hour: range "5-1" is reversed` or
        `expected 5 or 6 fields, found 4`.
    */
    QString errorString() const;
    /*! The expression as it was given to the constructor. */
    QString expression() const;

    /*!
        The first fire time strictly after \a after, computed in \a zone (an IANA time zone,
        e.g. `QTimeZone("Europe/Berlin")`), following the daylight-saving rules of the class
        description. The result is in UTC (`Qt::UTC`); use `toTimeZone(zone)` to show it in
        the zone. Fire times have whole seconds; milliseconds of \a after are taken into
        account (a fire time equal to \a after is not returned).

        Returns an invalid QDateTime when the schedule is invalid, \a after or \a zone is
        invalid, or the schedule can never fire (`0 0 30 2 *`, `0 0 31 4 *`). The search
        is computed field by field and bounded to 400 years after \a after.
    */
    Q_INVOKABLE QDateTime next(const QDateTime &after, const QTimeZone &zone) const;

    /*!
        True when \a a and \a b fire at the same times: both valid with the same fields
        (so `@daily` equals `0 0 * * *`, and `0 0 * * *` equals `0 0 0 * * *`), or both
        invalid with the same expression.
    */
    friend QREDLOCK_EXPORT bool operator==(const CronSchedule &a, const CronSchedule &b);
    /*! The negation of operator==(). */
    friend QREDLOCK_EXPORT bool operator!=(const CronSchedule &a, const CronSchedule &b);

private:
    QSharedDataPointer<CronScheduleData> d;
};

} // namespace QRedlock

Q_DECLARE_METATYPE(QRedlock::CronSchedule)
