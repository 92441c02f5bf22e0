// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// CronSchedule: every syntax form, the error messages that name the field and the token,
// next() in UTC and in zones with daylight-saving time (both transitions, fixed-hour,
// '*'-hour and step-hour schedules), and a brute-force minute-stepping cross-check.

#include <QRedlock/CronSchedule>

#include <QDateTime>
#include <QMetaMethod>
#include <QRandomGenerator>
#include <QTest>
#include <QTimeZone>
#include <QVariant>

#include <bitset>

using QRedlock::CronSchedule;

namespace {

QDateTime utc(const char *iso)
{
    QDateTime dt = QDateTime::fromString(QLatin1String(iso), Qt::ISODateWithMs);
    Q_ASSERT(dt.isValid());
    return dt.toUTC();
}

// ---- the reference: minute stepping over real instants, with the DST rules encoded ----

struct RefSchedule
{
    QString text;
    std::bitset<60> minute;
    std::bitset<24> hour;
    std::bitset<32> dom;
    std::bitset<13> month;
    std::bitset<7> dow;
    bool hourStar = false, domStar = false, dowStar = false;

    bool matchesWall(qint64 wall) const
    {
        const qint64 day = wall >= 0 ? wall / 86400 : -((-wall + 86399) / 86400);
        const qint64 sod = wall - day * 86400;
        const QDate date = QDate::fromJulianDay(day + 2440588);
        if (sod % 60 != 0 || !minute[sod / 60 % 60] || !hour[sod / 3600] || !month[date.month()])
            return false;
        const bool domHit = dom[date.day()];
        const bool dowHit = dow[date.dayOfWeek() % 7];
        return (domStar || dowStar) ? (domHit && dowHit) : (domHit || dowHit);
    }
};

// One field of a random expression: the text and the values it stands for.
template<size_t N>
QString randomField(QRandomGenerator &rng, int lo, int hi, int starPercent, std::bitset<N> &bits,
                    const char *const *names = nullptr)
{
    auto value = [&](int v) {
        if (names && rng.bounded(3) == 0)
            return QString::fromLatin1(names[v - lo]);
        return QString::number(v);
    };
    if (int(rng.bounded(100)) < starPercent) {
        if (rng.bounded(4) == 0) {
            const int step = 2 + int(rng.bounded(uint(std::min(6, hi - lo))));
            for (int v = lo; v <= hi; v += step)
                bits.set(size_t(v));
            return QStringLiteral("*/") + QString::number(step);
        }
        for (int v = lo; v <= hi; ++v)
            bits.set(size_t(v));
        return QStringLiteral("*");
    }
    QStringList items;
    const int count = 1 + int(rng.bounded(3));
    for (int i = 0; i < count; ++i) {
        const int a = lo + int(rng.bounded(uint(hi - lo + 1)));
        const int b = a + int(rng.bounded(uint(hi - a + 1)));
        switch (rng.bounded(4)) {
        case 0:
            bits.set(size_t(a));
            items << value(a);
            break;
        case 1:
            for (int v = a; v <= b; ++v)
                bits.set(size_t(v));
            items << value(a) + QLatin1Char('-') + value(b);
            break;
        case 2: {
            const int step = 1 + int(rng.bounded(5u));
            for (int v = a; v <= b; v += step)
                bits.set(size_t(v));
            items << value(a) + QLatin1Char('-') + value(b) + QLatin1Char('/') + QString::number(step);
            break;
        }
        default: {
            const int step = 1 + int(rng.bounded(uint(std::min(8, hi - lo + 1))));
            for (int v = a; v <= hi; v += step)
                bits.set(size_t(v));
            items << value(a) + QLatin1Char('/') + QString::number(step);
        }
        }
    }
    return items.join(QLatin1Char(','));
}

const char *const monthNames[] = { "JAN", "Feb", "mar", "APR", "May", "jun",
                                   "JUL", "aug", "Sep", "OCT", "nov", "Dec" };
const char *const dayNames[] = { "SUN", "mon", "Tue", "WED", "thu", "FRI", "sat" };

RefSchedule randomSchedule(QRandomGenerator &rng)
{
    RefSchedule s;
    QStringList f;
    f << randomField(rng, 0, 59, 30, s.minute);
    f << randomField(rng, 0, 23, 50, s.hour);
    f << randomField(rng, 1, 31, 75, s.dom);
    f << randomField(rng, 1, 12, 85, s.month, monthNames);
    f << randomField(rng, 0, 6, 60, s.dow, dayNames);
    s.hourStar = f.at(1).startsWith(QLatin1Char('*'));
    if (!s.hourStar && rng.bounded(2) == 0) { // often a fixed hour inside a DST transition
        const int h = rng.bounded(2) == 0 ? 2 : 1;
        s.hour.set(size_t(h));
        f[1] += QLatin1Char(',') + QString::number(h);
    }
    s.domStar = f.at(2).startsWith(QLatin1Char('*'));
    s.dowStar = f.at(4).startsWith(QLatin1Char('*'));
    s.text = f.join(QLatin1Char(' '));
    return s;
}

// Offsets change at whole UTC hours in the zones used here, so one look-up per hour.
class OffsetCache
{
public:
    explicit OffsetCache(const QTimeZone &z) : zone(z) { }
    int at(qint64 t)
    {
        const qint64 hourStart = t - ((t % 3600) + 3600) % 3600;
        if (hourStart != cachedHour) {
            cachedHour = hourStart;
            cached = zone.offsetFromUtc(QDateTime::fromSecsSinceEpoch(hourStart, Qt::UTC));
        }
        return cached;
    }

private:
    QTimeZone zone;
    qint64 cachedHour = std::numeric_limits<qint64>::min();
    int cached = 0;
};

// The first fire time (UTC seconds) after `after`, or -1 when none lies within `horizon` s.
qint64 referenceNext(const RefSchedule &s, const QTimeZone &zone, qint64 after, qint64 horizon)
{
    OffsetCache offsets(zone);
    const qint64 start = after - after % 60 - 4 * 3600; // see transitions just before `after`
    qint64 repeatUntil = std::numeric_limits<qint64>::min(); // second occurrences end here
    for (qint64 t = start; t <= after + horizon; t += 60) {
        const int off = offsets.at(t);
        const int before = offsets.at(t - 60);
        bool fire = false;
        if (s.hourStar) {
            fire = s.matchesWall(t + off);
        } else {
            if (off < before) // fall back at t: walls [t + off, t + before) happen again
                repeatUntil = t + (before - off);
            if (off > before) { // spring forward at t: walls [t + before, t + off) are skipped
                for (qint64 w = t + before; w < t + off && !fire; w += 60)
                    fire = s.matchesWall(w);
            }
            if (t >= repeatUntil)
                fire = fire || s.matchesWall(t + off);
        }
        if (fire && t > after)
            return t;
    }
    return -1;
}

} // namespace

class tst_CronSchedule : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaults();
    void valid_data();
    void valid();
    void invalid_data();
    void invalid();
    void next_data();
    void next();
    void valueType();
    void gadget();
    void bruteForce_data();
    void bruteForce();
};

void tst_CronSchedule::defaults()
{
    const CronSchedule s;
    QVERIFY(!s.isValid());
    QCOMPARE(s.errorString(), QStringLiteral("empty expression"));
    QVERIFY(s.expression().isEmpty());
    QVERIFY(!s.next(utc("2027-01-01T00:00:00Z"), QTimeZone::utc()).isValid());
}

void tst_CronSchedule::valid_data()
{
    QTest::addColumn<QString>("expression");
    QTest::addColumn<QString>("sameAs"); // an equivalent expression (operator==)

    auto row = [](const char *e, const char *same) {
        QTest::newRow(e) << QString::fromLatin1(e) << QString::fromLatin1(same);
    };
    row("* * * * *", "0 * * * * *");
    row("  0\t0 \t * *    *  ", "0 0 * * *");
    row("@daily", "0 0 * * *");
    row("@MIDNIGHT", "0 0 * * *");
    row("@yearly", "0 0 1 1 *");
    row("@Annually", "0 0 1 jan *");
    row("@monthly", "0 0 1 * *");
    row("@weekly", "0 0 * * SUN");
    row("@hourly", "0 * * * *");
    row(" @hourly ", "0 * * * *");
    row("0 0 * jan-mar mon-fri", "0 0 * 1-3 1-5");
    row("0 0 * * Sat,sun", "0 0 * * 0,6");
    row("0 0 1 JUN *", "0 0 1 6 *");
    row("5/20 * * * *", "5,25,45 * * * *");
    row("0 0 * * 1/2", "0 0 * * 1,3,5");
    row("0 0 * * */2", "0 0 * * */2");
    row("*/60 * * * *", "0 * * * *");
    row("0-59/30 * * * *", "0,30 * * * *");
    row("007 08 * * *", "7 8 * * *");
    row("*/10 * * * * *", "0,10,20,30,40,50 * * * * *");
    row("0 0 29 2 *", "0 0 29 feb *");
    row("0 0 30 2 *", "0 0 30 2 *"); // valid but never fires
}

void tst_CronSchedule::valid()
{
    QFETCH(QString, expression);
    QFETCH(QString, sameAs);
    const CronSchedule s(expression);
    QVERIFY2(s.isValid(), qPrintable(s.errorString()));
    QVERIFY(s.errorString().isEmpty());
    QCOMPARE(s.expression(), expression);
    const CronSchedule same(sameAs);
    QVERIFY2(same.isValid(), qPrintable(same.errorString()));
    QVERIFY(s == same);
    QVERIFY(!(s != same));
}

void tst_CronSchedule::invalid_data()
{
    QTest::addColumn<QString>("expression");
    QTest::addColumn<QString>("message"); // a substring of errorString()

    auto row = [](const char *e, const char *m) {
        QTest::newRow(e) << QString::fromLatin1(e) << QString::fromLatin1(m);
    };
    row("", "empty expression");
    row(" \t ", "empty expression");
    row("* * * *", "expected 5 or 6 fields, found 4");
    row("*", "expected 5 or 6 fields, found 1");
    row("* * * * * * *", "expected 5 or 6 fields, found 7");
    row("60 * * * *", "minute: \"60\" is out of range 0-59");
    row("* 24 * * *", "hour: \"24\" is out of range 0-23");
    row("* * 0 * *", "day-of-month: \"0\" is out of range 1-31");
    row("* * 32 * *", "day-of-month: \"32\" is out of range 1-31");
    row("* * * 13 *", "month: \"13\" is out of range 1-12");
    row("* * * 0 *", "month: \"0\" is out of range 1-12");
    row("* * * * 8", "day-of-week: \"8\" is out of range 0-6");
    row("* * * * 7", "day-of-week: \"7\" is out of range 0-6 (write 0 for Sunday)");
    row("0 0 * * 1-7", "day-of-week: \"7\" is out of range 0-6");
    row("60 * * * * *", "second: \"60\" is out of range 0-59");
    row("*/0 * * * *", "minute: step \"*/0\" must be >= 1");
    row("* 1-5/0 * * *", "hour: step \"1-5/0\" must be >= 1");
    row("*/61 * * * *", "minute: step \"*/61\" is out of range 1-60");
    row("5-1 * * * *", "minute: range \"5-1\" is reversed");
    row("* * * * FRI-MON", "day-of-week: range \"FRI-MON\" is reversed");
    row("* * * DEC-JAN *", "month: range \"DEC-JAN\" is reversed");
    row("* * * FOO *", "month: unknown name \"FOO\"");
    row("* * * JANUARY *", "month: unknown name \"JANUARY\"");
    row("* * * * MONDAY", "day-of-week: unknown name \"MONDAY\"");
    row("* * * * JAN", "day-of-week: unknown name \"JAN\"");
    row("* * * MON *", "month: unknown name \"MON\"");
    row("MON/2 * * * *", "minute: \"MON\" is not a number");
    row("* abc * * *", "hour: \"abc\" is not a number");
    row("* * L * *", "day-of-month: \"L\" is not a number");
    row("1,,2 * * * *", "minute: empty list item in \"1,,2\"");
    row("1, * * * *", "minute: empty list item in \"1,\"");
    row(",1 * * * *", "minute: empty list item in \",1\"");
    row("* * * * *,", "day-of-week: empty list item in \"*,\"");
    row("1-2-3 * * * *", "minute: invalid range \"1-2-3\"");
    row("-5 * * * *", "minute: invalid range \"-5\"");
    row("5- * * * *", "minute: invalid range \"5-\"");
    row("* * -1 * *", "day-of-month: invalid range \"-1\"");
    row("*-5 * * * *", "minute: invalid value \"*\"");
    row("1x * * * *", "minute: invalid value \"1x\"");
    row("*/ * * * *", "minute: missing step in \"*/\"");
    row("/5 * * * *", "minute: missing value before \"/\" in \"/5\"");
    row("*/5/2 * * * *", "minute: \"*/5/2\" has more than one step");
    row("*/x * * * *", "minute: step \"*/x\" is not a number");
    row("99999999999 * * * *", "minute: number \"99999999999\" is too large");
    row("*/99999999999 * * * *", "minute: number \"99999999999\" is too large");
    row("0 0 * * * 4294967297", "day-of-week: number \"4294967297\" is too large");
    row("1;2 * * * *", "minute: unexpected character \";\" in \"1;2\"");
    row("* * * * ?", "day-of-week: unexpected character \"?\"");
    row("0 0 * * * #", "day-of-week: unexpected character \"#\"");
    row("* * * * *\n", "day-of-week: unexpected character U+000A");
    row("* * * * 1.5", "day-of-week: unexpected character \".\"");
    row("@foo", "unknown macro \"@foo\"");
    row("@", "unknown macro \"@\"");
    row("@daily *", "macro \"@daily\" takes no fields, found \"*\"");
    row("@reboot", "unknown macro \"@reboot\"");
}

void tst_CronSchedule::invalid()
{
    QFETCH(QString, expression);
    QFETCH(QString, message);
    const CronSchedule s(expression);
    QVERIFY(!s.isValid());
    QVERIFY2(s.errorString().contains(message),
             qPrintable(QStringLiteral("got: ") + s.errorString()));
    QCOMPARE(s.expression(), expression);
    QVERIFY(!s.next(utc("2027-01-01T00:00:00Z"), QTimeZone::utc()).isValid());
}

void tst_CronSchedule::next_data()
{
    QTest::addColumn<QString>("expression");
    QTest::addColumn<QByteArray>("zone");
    QTest::addColumn<QDateTime>("after");
    QTest::addColumn<QDateTime>("expected"); // invalid: never fires

    int n = 0;
    auto row = [&n](const char *e, const char *zone, const char *after, const char *expected) {
        const QByteArray name = QByteArray::number(++n) + ' ' + e + " | " + zone + " | " + after;
        QTest::newRow(name.constData()) << QString::fromLatin1(e) << QByteArray(zone) << utc(after)
                                        << (expected ? utc(expected) : QDateTime());
    };
    // UTC: basics, strictly-after, milliseconds, steps, lists, rollover
    row("* * * * *", "UTC", "2027-01-01T00:00:00Z", "2027-01-01T00:01:00Z");
    row("* * * * *", "UTC", "2027-01-01T00:00:30Z", "2027-01-01T00:01:00Z");
    row("0 * * * *", "UTC", "2027-01-01T00:00:00Z", "2027-01-01T01:00:00Z");
    row("30 2 * * *", "UTC", "2027-01-01T02:30:00Z", "2027-01-02T02:30:00Z");
    row("30 2 * * *", "UTC", "2027-01-01T02:29:59.999Z", "2027-01-01T02:30:00Z");
    row("30 2 * * *", "UTC", "2027-01-01T02:30:00.001Z", "2027-01-02T02:30:00Z");
    row("0 0 1 1 *", "UTC", "2027-06-15T12:00:00Z", "2028-01-01T00:00:00Z");
    row("59 23 31 12 *", "UTC", "2027-12-31T23:59:00Z", "2028-12-31T23:59:00Z");
    row("0 0 * * *", "UTC", "2027-12-31T23:59:59Z", "2028-01-01T00:00:00Z");
    row("*/15 * * * *", "UTC", "2027-01-01T00:16:00Z", "2027-01-01T00:30:00Z");
    row("*/15 * * * *", "UTC", "2027-01-01T23:45:00Z", "2027-01-02T00:00:00Z");
    row("5-10/2 * * * *", "UTC", "2027-01-01T00:06:00Z", "2027-01-01T00:07:00Z");
    row("5-10/2 * * * *", "UTC", "2027-01-01T00:09:00Z", "2027-01-01T01:05:00Z");
    row("5/20 * * * *", "UTC", "2027-01-01T00:26:00Z", "2027-01-01T00:45:00Z");
    row("5/20 * * * *", "UTC", "2027-01-01T00:46:00Z", "2027-01-01T01:05:00Z");
    row("1,5,10-12 * * * *", "UTC", "2027-01-01T00:05:00Z", "2027-01-01T00:10:00Z");
    row("1,5,10-12 * * * *", "UTC", "2027-01-01T00:12:00Z", "2027-01-01T01:01:00Z");
    row("0 9-17/4 * * *", "UTC", "2027-01-01T13:00:00Z", "2027-01-01T17:00:00Z");
    row("0 9-17/4 * * *", "UTC", "2027-01-01T17:00:00Z", "2027-01-02T09:00:00Z");
    row("0 0 31 * *", "UTC", "2027-04-01T00:00:00Z", "2027-05-31T00:00:00Z");
    row("0 0 31 2,5 *", "UTC", "2027-01-01T00:00:00Z", "2027-05-31T00:00:00Z");
    row("0 12 1 */3 *", "UTC", "2027-02-01T00:00:00Z", "2027-04-01T12:00:00Z");
    row("0 0 1 dec *", "UTC", "2027-12-01T00:00:00Z", "2028-12-01T00:00:00Z");
    // Feb 29 and expressions that never fire
    row("0 0 29 2 *", "UTC", "2027-01-01T00:00:00Z", "2028-02-29T00:00:00Z");
    row("0 0 29 2 *", "UTC", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z");
    row("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z");
    row("0 0 29 2 *", "Europe/Berlin", "2027-01-01T00:00:00Z", "2028-02-28T23:00:00Z");
    row("0 * 29 2 *", "Europe/Berlin", "2027-06-01T00:00:00Z", "2028-02-28T23:00:00Z"); // real time
    row("0 * 29 2 *", "America/New_York", "2028-02-29T04:30:00Z", "2028-02-29T05:00:00Z");
    row("0 0 29 2 */7", "UTC", "2027-01-01T00:00:00Z", "2032-02-29T00:00:00Z"); // Sunday Feb 29
    row("0 0 29 2 */7", "Europe/Berlin", "2097-01-01T00:00:00Z", "2128-02-28T23:00:00Z"); // 31 years
    row("0 * 29 2 */7", "Europe/Berlin", "2097-01-01T00:00:00Z", "2128-02-28T23:00:00Z"); // real time
    row("0 0 30 2 *", "UTC", "2027-01-01T00:00:00Z", nullptr);
    row("0 0 31 4 *", "UTC", "2027-01-01T00:00:00Z", nullptr);
    row("0 0 31 4,6,9,11 *", "UTC", "2027-01-01T00:00:00Z", nullptr);
    row("0 0 30,31 feb *", "Europe/Berlin", "2027-01-01T00:00:00Z", nullptr);
    row("0 0 30 2 1", "UTC", "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"); // OR: Mondays in Feb
    // day-of-month / day-of-week: OR when both are restricted, AND when one begins with '*'
    row("0 0 13 * 5", "UTC", "2027-01-01T00:00:00Z", "2027-01-08T00:00:00Z"); // Friday
    row("0 0 13 * 5", "UTC", "2027-01-09T00:00:00Z", "2027-01-13T00:00:00Z"); // the 13th, a Wednesday
    row("0 0 13 * *", "UTC", "2027-01-01T00:00:00Z", "2027-01-13T00:00:00Z");
    row("0 0 * * 5", "UTC", "2027-01-01T00:00:00Z", "2027-01-08T00:00:00Z");
    row("0 0 1-7 * 0", "UTC", "2027-01-07T00:00:00Z", "2027-01-10T00:00:00Z");  // OR: a Sunday
    row("0 0 1-7 * */7", "UTC", "2027-01-03T00:00:00Z", "2027-02-07T00:00:00Z"); // AND: first Sunday
    row("0 0 */10 * 5", "UTC", "2027-01-01T00:00:00Z", "2027-05-21T00:00:00Z");  // AND
    row("0 0 1,11,21,31 * 5", "UTC", "2027-01-01T00:00:00Z", "2027-01-08T00:00:00Z"); // OR
    row("0 0 * * 1/2", "UTC", "2027-01-01T00:00:00Z", "2027-01-04T00:00:00Z");
    // names
    row("0 12 * JAN-MAR MON-FRI", "UTC", "2027-03-31T12:00:00Z", "2028-01-03T12:00:00Z");
    row("0 0 * * sun", "UTC", "2027-01-01T00:00:00Z", "2027-01-03T00:00:00Z");
    row("0 0 * * Sat,SUN", "UTC", "2027-01-02T00:00:00Z", "2027-01-03T00:00:00Z");
    row("0 0 1 jun *", "UTC", "2027-01-01T00:00:00Z", "2027-06-01T00:00:00Z");
    row("0 0 * feb-apr/2 *", "UTC", "2027-02-28T00:00:00Z", "2027-04-01T00:00:00Z");
    // macros
    row("@yearly", "UTC", "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z");
    row("@annually", "UTC", "2027-05-01T00:00:00Z", "2028-01-01T00:00:00Z");
    row("@monthly", "UTC", "2027-01-31T00:00:00Z", "2027-02-01T00:00:00Z");
    row("@weekly", "UTC", "2027-01-01T00:00:00Z", "2027-01-03T00:00:00Z");
    row("@daily", "UTC", "2027-01-01T00:00:00Z", "2027-01-02T00:00:00Z");
    row("@midnight", "UTC", "2027-01-01T12:00:00Z", "2027-01-02T00:00:00Z");
    row("@hourly", "UTC", "2027-01-01T00:59:59Z", "2027-01-01T01:00:00Z");
    row("@DAILY", "Europe/Berlin", "2027-07-01T00:00:00Z", "2027-07-01T22:00:00Z");
    // seconds field
    row("*/10 * * * * *", "UTC", "2027-01-01T00:00:05Z", "2027-01-01T00:00:10Z");
    row("* * * * * *", "UTC", "2027-01-01T00:00:00.500Z", "2027-01-01T00:00:01Z");
    row("15,45 * * * * *", "UTC", "2027-01-01T00:00:45Z", "2027-01-01T00:01:15Z");
    row("30 0 0 * * *", "UTC", "2027-01-01T00:00:30Z", "2027-01-02T00:00:30Z");
    row("59 59 23 31 12 *", "UTC", "2027-06-01T00:00:00Z", "2027-12-31T23:59:59Z");
    row("59 59 23 31 12 *", "UTC", "2027-12-31T23:59:59Z", "2028-12-31T23:59:59Z");
    row("0 0 0 29 2 *", "UTC", "2027-01-01T00:00:00Z", "2028-02-29T00:00:00Z");
    row("30 30 2 * * *", "Europe/Berlin", "2027-03-27T12:00:00Z", "2027-03-28T01:00:00Z"); // gap
    row("*/20 * * * * *", "Europe/Berlin", "2027-10-31T00:59:40Z", "2027-10-31T01:00:00Z");
    // Europe/Berlin, fixed hour: spring forward (2027-03-28 01:00 UTC, 02:00 -> 03:00)
    row("30 2 * * *", "Europe/Berlin", "2027-03-27T12:00:00Z", "2027-03-28T01:00:00Z");
    row("30 2 * * *", "Europe/Berlin", "2027-03-28T00:59:59Z", "2027-03-28T01:00:00Z");
    row("30 2 * * *", "Europe/Berlin", "2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z");
    row("0,30 2 * * *", "Europe/Berlin", "2027-03-27T12:00:00Z", "2027-03-28T01:00:00Z");
    row("0,30 2 * * *", "Europe/Berlin", "2027-03-28T01:00:00Z", "2027-03-29T00:00:00Z"); // once
    row("0 2 * * *", "Europe/Berlin", "2027-03-27T12:00:00Z", "2027-03-28T01:00:00Z");
    row("* 2 * * *", "Europe/Berlin", "2027-03-28T00:59:00Z", "2027-03-28T01:00:00Z"); // once
    row("* 2 * * *", "Europe/Berlin", "2027-03-28T01:00:00Z", "2027-03-29T00:00:00Z");
    row("0 3 * * *", "Europe/Berlin", "2027-03-27T12:00:00Z", "2027-03-28T01:00:00Z");
    row("30 1 * * *", "Europe/Berlin", "2027-03-27T12:00:00Z", "2027-03-28T00:30:00Z");
    row("30 1-3 * * *", "Europe/Berlin", "2027-03-28T00:30:00Z", "2027-03-28T01:00:00Z");
    row("30 1-3 * * *", "Europe/Berlin", "2027-03-28T01:00:00Z", "2027-03-28T01:30:00Z");
    row("0 2-4/2 * * *", "Europe/Berlin", "2027-03-27T12:00:00Z", "2027-03-28T01:00:00Z");
    row("0 9 * * MON-FRI", "Europe/Berlin", "2027-03-26T08:00:00Z", "2027-03-29T07:00:00Z");
    // Europe/Berlin, fixed hour: fall back (2027-10-31 01:00 UTC, 03:00 -> 02:00)
    row("30 2 * * *", "Europe/Berlin", "2027-10-30T12:00:00Z", "2027-10-31T00:30:00Z");
    row("30 2 * * *", "Europe/Berlin", "2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"); // not 01:30Z
    row("30 2 * * *", "Europe/Berlin", "2027-10-31T01:15:00Z", "2027-11-01T01:30:00Z");
    row("0 2 * * *", "Europe/Berlin", "2027-10-30T12:00:00Z", "2027-10-31T00:00:00Z");
    row("* 2 * * *", "Europe/Berlin", "2027-10-31T00:59:00Z", "2027-11-01T01:00:00Z");
    row("30 1-3 * * *", "Europe/Berlin", "2027-10-31T00:30:00Z", "2027-10-31T02:30:00Z");
    row("0 0 * * *", "Europe/Berlin", "2027-06-30T22:00:00Z", "2027-07-01T22:00:00Z");
    // Europe/Berlin, '*' hour and step hour: real time
    row("30 * * * *", "Europe/Berlin", "2027-03-28T00:00:00Z", "2027-03-28T00:30:00Z");
    row("30 * * * *", "Europe/Berlin", "2027-03-28T00:30:00Z", "2027-03-28T01:30:00Z");
    row("30 * * * *", "Europe/Berlin", "2027-10-31T00:00:00Z", "2027-10-31T00:30:00Z");
    row("30 * * * *", "Europe/Berlin", "2027-10-31T00:30:00Z", "2027-10-31T01:30:00Z"); // 02:30 CET
    row("0 */2 * * *", "Europe/Berlin", "2027-10-31T00:00:00Z", "2027-10-31T01:00:00Z"); // 02:00 CET
    row("0 */2 * * *", "Europe/Berlin", "2027-03-28T00:00:00Z", "2027-03-28T02:00:00Z"); // 04:00 CEST
    row("* * * * *", "Europe/Berlin", "2027-03-28T00:59:00Z", "2027-03-28T01:00:00Z");
    row("0 * 28 3 *", "Europe/Berlin", "2027-03-28T00:00:00Z", "2027-03-28T01:00:00Z"); // 03:00 CEST
    // America/New_York (2027-03-14 07:00 UTC 02:00 -> 03:00; 2027-11-07 06:00 UTC 02:00 -> 01:00)
    row("30 2 * * *", "America/New_York", "2027-03-13T12:00:00Z", "2027-03-14T07:00:00Z");
    row("30 2 * * *", "America/New_York", "2027-03-14T07:00:00Z", "2027-03-15T06:30:00Z");
    row("15 2 * * *", "America/New_York", "2027-03-14T06:59:59Z", "2027-03-14T07:00:00Z");
    row("30 1 * * *", "America/New_York", "2027-11-06T12:00:00Z", "2027-11-07T05:30:00Z");
    row("30 1 * * *", "America/New_York", "2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z");
    row("30 1 * * *", "America/New_York", "2027-11-07T06:10:00Z", "2027-11-08T06:30:00Z");
    row("30 * * * *", "America/New_York", "2027-11-07T05:30:00Z", "2027-11-07T06:30:00Z");
    row("30 * * * *", "America/New_York", "2027-03-14T06:30:00Z", "2027-03-14T07:30:00Z");
    row("0 */3 * * *", "America/New_York", "2027-11-07T04:00:00Z", "2027-11-07T08:00:00Z");
    row("0 */3 * * *", "America/New_York", "2027-03-14T05:00:00Z", "2027-03-14T07:00:00Z"); // 03:00 EDT
    row("0 0 * * *", "America/New_York", "2027-01-01T05:00:00Z", "2027-01-02T05:00:00Z");
    row("0 0 * * *", "America/New_York", "2027-07-01T04:00:00Z", "2027-07-02T04:00:00Z");
    row("0 0 1 1 *", "America/New_York", "2027-12-31T12:00:00Z", "2028-01-01T05:00:00Z");
    // Australia/Sydney (2027-04-03 16:00 UTC 03:00 -> 02:00; 2027-10-02 16:00 UTC 02:00 -> 03:00)
    row("30 2 * * *", "Australia/Sydney", "2027-04-03T00:00:00Z", "2027-04-03T15:30:00Z");
    row("30 2 * * *", "Australia/Sydney", "2027-04-03T15:30:00Z", "2027-04-04T16:30:00Z");
    row("30 2 * * *", "Australia/Sydney", "2027-10-02T00:00:00Z", "2027-10-02T16:00:00Z");
    row("30 * * * *", "Australia/Sydney", "2027-04-03T15:30:00Z", "2027-04-03T16:30:00Z");
    row("30 * * * *", "Australia/Sydney", "2027-10-02T15:30:00Z", "2027-10-02T16:30:00Z");
    // Asia/Kolkata (+05:30, no DST)
    row("0 0 * * *", "Asia/Kolkata", "2027-01-01T00:00:00Z", "2027-01-01T18:30:00Z");
    row("30 * * * *", "Asia/Kolkata", "2027-01-01T00:00:00Z", "2027-01-01T01:00:00Z");
    row("0 * * * *", "Asia/Kolkata", "2027-01-01T00:00:00Z", "2027-01-01T00:30:00Z");
    // `after` given in another zone: only the instant counts
    QTest::newRow("after in +09:00")
            << QStringLiteral("0 0 * * *") << QByteArray("UTC")
            << QDateTime(QDate(2027, 1, 1), QTime(9, 0), QTimeZone(9 * 3600))
            << utc("2027-01-02T00:00:00Z");
}

void tst_CronSchedule::next()
{
    QFETCH(QString, expression);
    QFETCH(QByteArray, zone);
    QFETCH(QDateTime, after);
    QFETCH(QDateTime, expected);
    const CronSchedule s(expression);
    QVERIFY2(s.isValid(), qPrintable(s.errorString()));
    const QTimeZone tz(zone);
    QVERIFY(tz.isValid());
    const QDateTime got = s.next(after, tz);
    if (!expected.isValid()) {
        QVERIFY2(!got.isValid(), qPrintable(got.toString(Qt::ISODate)));
        return;
    }
    QCOMPARE(got.timeSpec(), Qt::UTC);
    QCOMPARE(got, expected);
}

void tst_CronSchedule::valueType()
{
    const CronSchedule a(QStringLiteral("0 0 * * *"));
    CronSchedule b = a;
    QVERIFY(a == b);
    b = CronSchedule(QStringLiteral("0 1 * * *"));
    QVERIFY(a != b);
    QVERIFY(CronSchedule(QStringLiteral("x")) == CronSchedule(QStringLiteral("x")));
    QVERIFY(CronSchedule(QStringLiteral("x")) != CronSchedule(QStringLiteral("y")));
    // '*'-hour and '0-23' hour fire at the same wall times but differ across DST
    QVERIFY(CronSchedule(QStringLiteral("0 * * * *")) != CronSchedule(QStringLiteral("0 0-23 * * *")));
    // the OR rule makes "1-31" and "*" different
    QVERIFY(CronSchedule(QStringLiteral("0 0 * * 1")) != CronSchedule(QStringLiteral("0 0 1-31 * 1")));

    const QVariant v = QVariant::fromValue(a);
    QCOMPARE(v.value<CronSchedule>().expression(), a.expression());
    QVERIFY(!CronSchedule().next(QDateTime(), QTimeZone::utc()).isValid());
    QVERIFY(!a.next(utc("2027-01-01T00:00:00Z"), QTimeZone()).isValid());
    QVERIFY(!a.next(QDateTime(), QTimeZone::utc()).isValid());
}

void tst_CronSchedule::gadget()
{
    const CronSchedule s(QStringLiteral("*/5 * * * *"));
    const QMetaObject &mo = CronSchedule::staticMetaObject;
    auto prop = [&](const char *name) {
        const int i = mo.indexOfProperty(name);
        Q_ASSERT(i >= 0);
        return mo.property(i).readOnGadget(&s);
    };
    QCOMPARE(prop("valid").toBool(), true);
    QCOMPARE(prop("expression").toString(), QStringLiteral("*/5 * * * *"));
    QCOMPARE(prop("errorString").toString(), QString());

    const int index = mo.indexOfMethod("next(QDateTime,QTimeZone)");
    QVERIFY(index >= 0);
    QDateTime result;
    QVERIFY(mo.method(index).invokeOnGadget(const_cast<CronSchedule *>(&s), Q_RETURN_ARG(QDateTime, result),
                                            Q_ARG(QDateTime, utc("2027-01-01T00:01:00Z")),
                                            Q_ARG(QTimeZone, QTimeZone::utc())));
    QCOMPARE(result, utc("2027-01-01T00:05:00Z"));
}

void tst_CronSchedule::bruteForce_data()
{
    QTest::addColumn<QByteArray>("zone");
    QTest::addColumn<int>("pairs");
    QTest::newRow("UTC") << QByteArray("UTC") << 1000;
    QTest::newRow("Europe/Berlin") << QByteArray("Europe/Berlin") << 1500;
    QTest::newRow("America/New_York") << QByteArray("America/New_York") << 1500;
}

void tst_CronSchedule::bruteForce()
{
    QFETCH(QByteArray, zone);
    QFETCH(int, pairs);
    const QTimeZone tz(zone);
    QVERIFY(tz.isValid());
    QRandomGenerator rng(20271031u + quint32(zone.size()));
    // Half the `after`s are within a day of the DST transitions of 2027 in either zone.
    const qint64 transitions[] = { utc("2027-03-28T01:00:00Z").toSecsSinceEpoch(),
                                   utc("2027-10-31T01:00:00Z").toSecsSinceEpoch(),
                                   utc("2027-03-14T07:00:00Z").toSecsSinceEpoch(),
                                   utc("2027-11-07T06:00:00Z").toSecsSinceEpoch() };
    const qint64 yearStart = utc("2027-01-01T00:00:00Z").toSecsSinceEpoch();
    const qint64 horizon = 40 * 86400;
    int compared = 0;
    for (int i = 0; i < pairs; ++i) {
        const RefSchedule ref = randomSchedule(rng);
        const CronSchedule s(ref.text);
        QVERIFY2(s.isValid(), qPrintable(ref.text + QLatin1String(": ") + s.errorString()));
        qint64 after;
        if (rng.bounded(2) == 0)
            after = transitions[rng.bounded(4u)] + qint64(rng.bounded(2 * 86400u)) - 86400;
        else
            after = yearStart + qint64(rng.bounded(365 * 86400u));
        if (rng.bounded(2) == 0)
            after -= after % 60; // often exactly on a minute (and so on a possible fire time)
        const qint64 expected = referenceNext(ref, tz, after, horizon);
        const QDateTime got = s.next(QDateTime::fromSecsSinceEpoch(after, Qt::UTC), tz);
        const QString context = ref.text + QLatin1String(" after ")
                + QDateTime::fromSecsSinceEpoch(after, Qt::UTC).toString(Qt::ISODate);
        if (expected < 0) {
            QVERIFY2(!got.isValid() || got.toSecsSinceEpoch() > after + horizon - 60,
                     qPrintable(context + QLatin1String(" got ") + got.toString(Qt::ISODate)));
        } else {
            ++compared;
            QVERIFY2(got.isValid(), qPrintable(context));
            QVERIFY2(got.toSecsSinceEpoch() == expected,
                     qPrintable(context + QLatin1String(" got ") + got.toString(Qt::ISODate)
                                + QLatin1String(" expected ")
                                + QDateTime::fromSecsSinceEpoch(expected, Qt::UTC).toString(Qt::ISODate)));
        }
    }
    QVERIFY(compared > pairs / 2);
}

QTEST_GUILESS_MAIN(tst_CronSchedule)
#include "tst_cronschedule.moc"
