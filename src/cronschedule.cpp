// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "cronschedule.h"

#include "cronschedule_p.h"

#include <QtCore/QList>
#include <QtCore/QStringList>

#include <algorithm>
#include <limits>

namespace QRedlock {

namespace {

// ---- parsing ---------------------------------------------------------------

struct FieldSpec
{
    QLatin1String name;
    int min;
    int max;
    const char *const *names; // three-letter names of min, min+1, ...; nullptr for none
};

const char *const monthNames[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec", nullptr };
const char *const weekdayNames[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr };

const FieldSpec secondSpec { QLatin1String("second"), 0, 59, nullptr };
const FieldSpec minuteSpec { QLatin1String("minute"), 0, 59, nullptr };
const FieldSpec hourSpec { QLatin1String("hour"), 0, 23, nullptr };
const FieldSpec domSpec { QLatin1String("day-of-month"), 1, 31, nullptr };
const FieldSpec monthSpec { QLatin1String("month"), 1, 12, monthNames };
const FieldSpec dowSpec { QLatin1String("day-of-week"), 0, 6, weekdayNames };

QString quoted(const QString &s) { return QLatin1Char('"') + s + QLatin1Char('"'); }

bool isDigits(const QString &s)
{
    return !s.isEmpty()
            && std::all_of(s.cbegin(), s.cend(), [](QChar c) { return c >= u'0' && c <= u'9'; });
}

bool isLetters(const QString &s)
{
    return !s.isEmpty() && std::all_of(s.cbegin(), s.cend(), [](QChar c) {
               return (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z');
           });
}

// Digits only; false when the number does not fit in 9 digits' worth (no overflow possible).
bool toNumber(const QString &s, int &out)
{
    qint64 v = 0;
    for (QChar c : s) {
        v = v * 10 + (c.unicode() - u'0');
        if (v > 999999999)
            return false;
    }
    out = int(v);
    return true;
}

class FieldParser
{
public:
    FieldParser(const FieldSpec &spec, QString &error) : f(spec), error(error) { }

    bool fail(const QString &message)
    {
        error = f.name + QLatin1String(": ") + message;
        return false;
    }

    bool value(const QString &token, int &out)
    {
        if (isDigits(token)) {
            if (!toNumber(token, out))
                return fail(QLatin1String("number ") + quoted(token) + QLatin1String(" is too large"));
            if (out < f.min || out > f.max) {
                QString message = quoted(token) + QLatin1String(" is out of range ")
                        + QString::number(f.min) + QLatin1Char('-') + QString::number(f.max);
                if (f.names == weekdayNames && out == 7)
                    message += QLatin1String(" (write 0 for Sunday)");
                return fail(message);
            }
            return true;
        }
        if (isLetters(token)) {
            if (!f.names)
                return fail(quoted(token) + QLatin1String(" is not a number"));
            const QString lower = token.toLower();
            for (int i = 0; f.names[i]; ++i) {
                if (lower == QLatin1String(f.names[i])) {
                    out = f.min + i;
                    return true;
                }
            }
            return fail(QLatin1String("unknown name ") + quoted(token));
        }
        return fail(QLatin1String("invalid value ") + quoted(token));
    }

    bool item(const QString &text, const QString &field, quint64 &bits)
    {
        if (text.isEmpty())
            return fail(QLatin1String("empty list item in ") + quoted(field));
        for (QChar c : text) {
            const bool ok = (c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'z')
                    || (c >= u'A' && c <= u'Z') || c == u'*' || c == u'-' || c == u'/';
            if (!ok) {
                const QString shown = c.isPrint() && !c.isSpace()
                        ? quoted(QString(c))
                        : QStringLiteral("U+%1").arg(c.unicode(), 4, 16, QLatin1Char('0')).toUpper();
                return fail(QLatin1String("unexpected character ") + shown + QLatin1String(" in ")
                            + quoted(field));
            }
        }
        const QStringList parts = text.split(QLatin1Char('/'));
        if (parts.size() > 2)
            return fail(quoted(text) + QLatin1String(" has more than one step"));
        const QString base = parts.at(0);
        const bool hasStep = parts.size() == 2;
        int lo = 0;
        int hi = 0;
        if (base == QLatin1String("*")) {
            lo = f.min;
            hi = f.max;
        } else if (base.isEmpty()) {
            return fail(QLatin1String("missing value before \"/\" in ") + quoted(text));
        } else if (base.contains(QLatin1Char('-'))) {
            const QStringList ends = base.split(QLatin1Char('-'));
            if (ends.size() != 2 || ends.at(0).isEmpty() || ends.at(1).isEmpty())
                return fail(QLatin1String("invalid range ") + quoted(base));
            if (!value(ends.at(0), lo) || !value(ends.at(1), hi))
                return false;
            if (lo > hi)
                return fail(QLatin1String("range ") + quoted(base) + QLatin1String(" is reversed"));
        } else {
            if (!value(base, lo))
                return false;
            hi = hasStep ? f.max : lo; // "a/n" means "a-max/n"
        }
        int step = 1;
        if (hasStep) {
            const QString stepText = parts.at(1);
            const int span = f.max - f.min + 1;
            if (stepText.isEmpty())
                return fail(QLatin1String("missing step in ") + quoted(text));
            if (!isDigits(stepText))
                return fail(QLatin1String("step ") + quoted(text) + QLatin1String(" is not a number"));
            if (!toNumber(stepText, step))
                return fail(QLatin1String("number ") + quoted(stepText) + QLatin1String(" is too large"));
            if (step < 1)
                return fail(QLatin1String("step ") + quoted(text) + QLatin1String(" must be >= 1"));
            if (step > span)
                return fail(QLatin1String("step ") + quoted(text) + QLatin1String(" is out of range 1-")
                            + QString::number(span));
        }
        for (int v = lo; v <= hi; v += step)
            bits |= quint64(1) << v;
        return true;
    }

    bool field(const QString &text, quint64 &bits)
    {
        bits = 0;
        const QStringList items = text.split(QLatin1Char(','));
        for (const QString &one : items) {
            if (!item(one, text, bits))
                return false;
        }
        return true;
    }

private:
    const FieldSpec &f;
    QString &error;
};

QString macroExpansion(const QString &name)
{
    const QString n = name.toLower();
    if (n == QLatin1String("@yearly") || n == QLatin1String("@annually"))
        return QStringLiteral("0 0 1 1 *");
    if (n == QLatin1String("@monthly"))
        return QStringLiteral("0 0 1 * *");
    if (n == QLatin1String("@weekly"))
        return QStringLiteral("0 0 * * 0");
    if (n == QLatin1String("@daily") || n == QLatin1String("@midnight"))
        return QStringLiteral("0 0 * * *");
    if (n == QLatin1String("@hourly"))
        return QStringLiteral("0 * * * *");
    return QString();
}

bool isBlank(QChar c) { return c == u' ' || c == u'\t'; }

QStringList splitFields(const QString &text)
{
    QStringList out;
    qsizetype i = 0;
    const qsizetype n = text.size();
    while (i < n) {
        while (i < n && isBlank(text.at(i)))
            ++i;
        const qsizetype start = i;
        while (i < n && !isBlank(text.at(i)))
            ++i;
        if (i > start)
            out.append(text.mid(start, i - start));
    }
    return out;
}

// ---- calendar arithmetic (proleptic Gregorian, days since 1970-01-01) -------

qint64 floorDiv(qint64 a, qint64 b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool isLeap(qint64 y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int daysInMonth(qint64 y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && isLeap(y) ? 29 : days[m - 1];
}

// Days from 1970-01-01 to y-m-d: count in 400-year eras starting on March 1st.
qint64 daysFromCivil(qint64 y, int m, int d)
{
    if (m <= 2)
        --y;
    const qint64 era = floorDiv(y, 400);
    const qint64 yoe = y - era * 400;                                  // 0..399
    const qint64 doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; // 0..365, from March 1st
    const qint64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          // 0..146096
    return era * 146097 + doe - 719468;                                // 719468: 0000-03-01 to 1970-01-01
}

void civilFromDays(qint64 days, qint64 &y, int &m, int &d)
{
    const qint64 z = days + 719468;
    const qint64 era = floorDiv(z, 146097);
    const qint64 doe = z - era * 146097;
    const qint64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const qint64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const qint64 mp = (5 * doy + 2) / 153;
    d = int(doy - (153 * mp + 2) / 5 + 1);
    m = int(mp < 10 ? mp + 3 : mp - 9);
    y = yoe + era * 400 + (m <= 2 ? 1 : 0);
}

int nextBit(quint64 mask, int from)
{
    if (from > 63)
        return -1;
    const quint64 rest = mask & (~quint64(0) << from);
    return rest ? __builtin_ctzll(rest) : -1;
}

constexpr qint64 noInstant = std::numeric_limits<qint64>::max();
constexpr int searchYears = 400;

// The time zone as seen by the search: offsets and transitions at instants (UTC seconds).
class ZoneView
{
public:
    explicit ZoneView(const QTimeZone &zone) : tz(zone), fixed(!zone.hasTransitions())
    {
        if (fixed)
            fixedOffset = zone.offsetFromUtc(QDateTime::fromSecsSinceEpoch(0, Qt::UTC));
    }
    bool isFixed() const { return fixed; }
    int offsetAt(qint64 t) const
    {
        return fixed ? fixedOffset : tz.offsetFromUtc(QDateTime::fromSecsSinceEpoch(t, Qt::UTC));
    }
    // The first transition strictly after t, or noInstant.
    qint64 nextTransition(qint64 t) const
    {
        if (fixed)
            return noInstant;
        const QTimeZone::OffsetData data = tz.nextTransition(QDateTime::fromSecsSinceEpoch(t, Qt::UTC));
        return data.atUtc.isValid() ? data.atUtc.toSecsSinceEpoch() : noInstant;
    }
    // The last transition strictly before t, or noInstant.
    qint64 previousTransition(qint64 t) const
    {
        if (fixed)
            return noInstant;
        const QTimeZone::OffsetData data =
                tz.previousTransition(QDateTime::fromSecsSinceEpoch(t, Qt::UTC));
        return data.atUtc.isValid() ? data.atUtc.toSecsSinceEpoch() : noInstant;
    }

    // Fixed wall-clock rule: the instant of wall time w (local seconds since the epoch):
    // its first occurrence, or the end of the gap that skips it.
    qint64 instantOfWall(qint64 w) const
    {
        if (fixed)
            return w - fixedOffset;
        // Offsets a day either side (the offset itself is within +-14 h, so these lie
        // before and after any transition near w).
        const int before = offsetAt(w - 86400);
        const int after = offsetAt(w + 86400);
        const qint64 tBefore = w - before;
        const bool validBefore = offsetAt(tBefore) == before;
        if (before == after)
            return tBefore;
        const qint64 tAfter = w - after;
        const bool validAfter = offsetAt(tAfter) == after;
        if (validBefore && validAfter)
            return std::min(tBefore, tAfter); // overlap: the first occurrence
        if (validBefore)
            return tBefore;
        if (validAfter)
            return tAfter;
        // A gap: w is skipped; fire at the transition that skipped it.
        const qint64 lo = std::min(tBefore, tAfter);
        const qint64 hi = std::max(tBefore, tAfter);
        const qint64 transition = nextTransition(lo - 1);
        return transition <= hi ? transition : hi;
    }

private:
    const QTimeZone &tz;
    bool fixed;
    int fixedOffset = 0;
};

} // namespace

// ---- CronScheduleData -----------------------------------------------------

void CronScheduleData::parse()
{
    valid = false;
    canFire = false;
    QString text = expression;
    QStringList fields = splitFields(text);
    if (fields.isEmpty()) {
        errorString = QStringLiteral("empty expression");
        return;
    }
    if (fields.at(0).startsWith(QLatin1Char('@'))) {
        const QString expansion = macroExpansion(fields.at(0));
        if (expansion.isEmpty()) {
            errorString = QLatin1String("unknown macro ") + quoted(fields.at(0))
                    + QLatin1String(" (known: @yearly @annually @monthly @weekly @daily @midnight @hourly)");
            return;
        }
        if (fields.size() > 1) {
            errorString = QLatin1String("macro ") + quoted(fields.at(0))
                    + QLatin1String(" takes no fields, found ") + quoted(fields.at(1));
            return;
        }
        fields = splitFields(expansion);
    }
    if (fields.size() != 5 && fields.size() != 6) {
        errorString = QLatin1String("expected 5 or 6 fields, found ") + QString::number(fields.size());
        return;
    }
    const int first = fields.size() == 6 ? 1 : 0;
    QString error;
    quint64 sec = 1, min = 0, hour = 0, dom = 0, month = 0, dow = 0;
    const bool ok = (first == 0 || FieldParser(secondSpec, error).field(fields.at(0), sec))
            && FieldParser(minuteSpec, error).field(fields.at(first), min)
            && FieldParser(hourSpec, error).field(fields.at(first + 1), hour)
            && FieldParser(domSpec, error).field(fields.at(first + 2), dom)
            && FieldParser(monthSpec, error).field(fields.at(first + 3), month)
            && FieldParser(dowSpec, error).field(fields.at(first + 4), dow);
    if (!ok) {
        errorString = error;
        return;
    }
    seconds = sec;
    minutes = min;
    hours = quint32(hour);
    daysOfMonth = quint32(dom);
    months = quint32(month);
    daysOfWeek = quint32(dow);
    realTime = fields.at(first + 1).startsWith(QLatin1Char('*'));
    domStar = fields.at(first + 2).startsWith(QLatin1Char('*'));
    dowStar = fields.at(first + 4).startsWith(QLatin1Char('*'));
    valid = true;
    errorString.clear();

    // OR rule: every month has every weekday, so the schedule fires. AND rule: some
    // allowed day-of-month must exist in some allowed month (a leap year for Feb 29; the
    // 400-year Gregorian cycle then puts it on every weekday).
    if (!(domStar || dowStar)) {
        canFire = true;
        return;
    }
    for (int m = 1; m <= 12 && !canFire; ++m) {
        if (months & (1u << m)) {
            const int maxDay = daysInMonth(2000, m);
            canFire = (daysOfMonth & ((quint32(2) << maxDay) - 2)) != 0;
        }
    }
}

// ---- the search -----------------------------------------------------------

namespace {

// The first wall-clock time >= w (local seconds since the epoch) that matches the fields,
// within searchYears; false when there is none.
bool firstWallMatch(const CronScheduleData &s, qint64 w, qint64 &out)
{
    qint64 days = floorDiv(w, 86400);
    const qint64 secOfDay = w - days * 86400;
    qint64 y;
    int m, d;
    civilFromDays(days, y, m, d);
    int h = int(secOfDay / 3600);
    int mi = int(secOfDay / 60 % 60);
    int sec = int(secOfDay % 60);
    const qint64 lastYear = y + searchYears;
    const bool both = s.domStar || s.dowStar;

    for (;;) {
        // Carry overflowing fields upwards.
        if (sec > 59) { sec = 0; ++mi; }
        if (mi > 59) { mi = 0; ++h; }
        if (h > 23) { h = 0; ++d; }
        if (d > daysInMonth(y, m)) { d = 1; ++m; }
        if (m > 12) { m = 1; ++y; }
        if (y > lastYear)
            return false;

        if (!(s.months & (1u << m))) {
            const int nm = nextBit(s.months, m + 1);
            if (nm < 0) { // none left this year: January of the next (the loop finds the month)
                m = 1;
                ++y;
            } else {
                m = nm;
            }
            d = 1; h = mi = sec = 0;
            continue;
        }
        const int dim = daysInMonth(y, m);
        const qint64 monthStart = daysFromCivil(y, m, 1);
        const int firstDow = int(((monthStart + 4) % 7 + 7) % 7); // 1970-01-01 was a Thursday
        int day = d;
        for (; day <= dim; ++day) {
            const bool domHit = s.daysOfMonth & (1u << day);
            const bool dowHit = s.daysOfWeek & (1u << ((firstDow + day - 1) % 7));
            if (both ? (domHit && dowHit) : (domHit || dowHit))
                break;
        }
        if (day > dim) {
            d = dim + 1; h = mi = sec = 0;
            continue;
        }
        if (day != d) {
            d = day; h = mi = sec = 0;
        }
        const int nh = nextBit(s.hours, h);
        if (nh < 0) {
            h = 24; mi = sec = 0;
            continue;
        }
        if (nh != h) {
            h = nh; mi = sec = 0;
        }
        const int nmi = nextBit(s.minutes, mi);
        if (nmi < 0) {
            mi = 60; sec = 0;
            continue;
        }
        if (nmi != mi) {
            mi = nmi; sec = 0;
        }
        const int ns = nextBit(s.seconds, sec);
        if (ns < 0) {
            sec = 60;
            continue;
        }
        out = (monthStart + d - 1) * 86400 + h * 3600 + mi * 60 + ns;
        return true;
    }
}

} // namespace

// ---- CronSchedule ---------------------------------------------------------

CronSchedule::CronSchedule() : d(new CronScheduleData) { }

CronSchedule::CronSchedule(const QString &expression) : d(new CronScheduleData)
{
    d->expression = expression;
    d->parse();
}

CronSchedule::CronSchedule(const CronSchedule &other) = default;
CronSchedule &CronSchedule::operator=(const CronSchedule &other) = default;
CronSchedule::~CronSchedule() = default;

bool CronSchedule::isValid() const { return d->valid; }
QString CronSchedule::errorString() const { return d->errorString; }
QString CronSchedule::expression() const { return d->expression; }

QDateTime CronSchedule::next(const QDateTime &after, const QTimeZone &zone) const
{
    const CronScheduleData &s = *d;
    if (!s.valid || !s.canFire || !after.isValid() || !zone.isValid())
        return QDateTime();
    const qint64 afterSecs = floorDiv(after.toMSecsSinceEpoch(), 1000); // fire times > this
    const ZoneView z(zone);
    qint64 wall = 0;

    if (s.realTime) {
        // Real time: the first instant t > after whose wall time (t + offset(t)) matches,
        // one stretch of constant offset at a time.
        qint64 from = afterSecs + 1;
        qint64 searchedFrom = noInstant; // the last search covered wall times [searchedFrom, wall]
        for (int stretch = 0; stretch < 4 * searchYears; ++stretch) {
            const int offset = z.offsetAt(from);
            const qint64 end = z.nextTransition(from);
            const qint64 start = from + offset;
            // Nothing matched in [searchedFrom, wall), so a later start in it finds wall again
            // (this keeps a rare day such as Feb 29 from being searched once per transition).
            if (!(start >= searchedFrom && start <= wall)) {
                if (!firstWallMatch(s, start, wall))
                    return QDateTime();
                searchedFrom = start;
            }
            const qint64 t = wall - offset;
            if (t < end)
                return QDateTime::fromSecsSinceEpoch(t, Qt::UTC);
            from = end;
        }
        return QDateTime();
    }

    // Fixed wall times: instantOfWall() does not decrease as the wall time grows, so search
    // the wall times after the wall time of `after`, and skip the rest of an overlap when
    // `after` lies in its second occurrence.
    qint64 from = afterSecs + z.offsetAt(afterSecs) + 1;
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (!firstWallMatch(s, from, wall))
            return QDateTime();
        const qint64 t = z.instantOfWall(wall);
        if (t > afterSecs)
            return QDateTime::fromSecsSinceEpoch(t, Qt::UTC);
        const qint64 transition = z.previousTransition(afterSecs + 1);
        if (transition == noInstant)
            return QDateTime();
        const qint64 overlapEnd = transition + z.offsetAt(transition - 1); // first unique wall time
        from = std::max(wall + 1, overlapEnd);
    }
    return QDateTime();
}

bool operator==(const CronSchedule &a, const CronSchedule &b)
{
    const CronScheduleData &x = *a.d;
    const CronScheduleData &y = *b.d;
    if (x.valid != y.valid)
        return false;
    if (!x.valid)
        return x.expression == y.expression;
    return x.seconds == y.seconds && x.minutes == y.minutes && x.hours == y.hours
            && x.daysOfMonth == y.daysOfMonth && x.months == y.months
            && x.daysOfWeek == y.daysOfWeek && x.domStar == y.domStar && x.dowStar == y.dowStar
            && x.realTime == y.realTime;
}

bool operator!=(const CronSchedule &a, const CronSchedule &b) { return !(a == b); }

} // namespace QRedlock
