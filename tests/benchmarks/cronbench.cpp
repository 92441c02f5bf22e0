// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// cronbench: the cost of CronSchedule::next() per call, over a mix of expressions and zones,
// against references measured in the same process: one QTimeZone::offsetFromUtc() call and
// one QDateTime::fromMSecsSinceEpoch(ms, zone). Prints µs per call and the ratios.
//
//   cronbench [--ms-per-case N]   (default 200 ms of calls per measurement)

#include <QRedlock/CronSchedule>

#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QRandomGenerator>
#include <QTextStream>
#include <QTimeZone>

#include <cstdio>
#include <functional>

namespace {

int msPerCase = 200;
quint64 sink = 0; // keeps the optimiser from dropping the calls

QList<qint64> afters()
{
    QRandomGenerator rng(2027);
    const qint64 start = QDateTime(QDate(2027, 1, 1), QTime(0, 0), Qt::UTC).toMSecsSinceEpoch();
    QList<qint64> out;
    for (int i = 0; i < 1024; ++i)
        out.append(start + qint64(rng.bounded(365 * 86400u)) * 1000 + rng.bounded(1000u));
    return out;
}

// Mean µs per call of f(after), over the fixed list of `after`s, for about msPerCase ms.
double timePerCall(const QList<qint64> &list, const std::function<quint64(qint64)> &f)
{
    for (int i = 0; i < 64; ++i) // warm up
        sink += f(list.at(i));
    QElapsedTimer timer;
    timer.start();
    qint64 calls = 0;
    do {
        for (qint64 a : list)
            sink += f(a);
        calls += list.size();
    } while (timer.elapsed() < msPerCase);
    return double(timer.nsecsElapsed()) / 1000.0 / double(calls);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    const int i = int(args.indexOf(QStringLiteral("--ms-per-case")));
    if (i > 0 && i + 1 < args.size())
        msPerCase = args.at(i + 1).toInt();

    const QList<qint64> list = afters();
    const QByteArray zones[] = { "UTC", "Europe/Berlin", "America/New_York" };
    const char *expressions[] = { "*/5 * * * *",   "30 2 * * *",     "0 9 * * MON-FRI",
                                  "0 0 29 2 *",    "0 0 30 2 *",     "*/10 * * * * *",
                                  "0 0 1-7 * */7", "0 0 29 2 */7",   "0 * 29 2 *",
                                  "@hourly" };
    QTextStream out(stdout);
    out << "| zone | expression | next() µs/call | × offsetFromUtc | × fromMSecsSinceEpoch(zone) |\n"
        << "| --- | --- | --- | --- | --- |\n";
    for (const QByteArray &id : zones) {
        const QTimeZone zone(id);
        const double offsetUs = timePerCall(list, [&](qint64 ms) {
            return quint64(zone.offsetFromUtc(QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC)));
        });
        const double fromMsUs = timePerCall(list, [&](qint64 ms) {
            return quint64(QDateTime::fromMSecsSinceEpoch(ms, zone).time().hour());
        });
        out << "| " << id << " | reference: offsetFromUtc " << QString::number(offsetUs, 'f', 3)
            << " µs, fromMSecsSinceEpoch(zone) " << QString::number(fromMsUs, 'f', 3)
            << " µs | | | |\n";
        for (const char *e : expressions) {
            const QRedlock::CronSchedule s(QString::fromLatin1(e));
            const double us = timePerCall(list, [&](qint64 ms) {
                const QDateTime t = s.next(QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC), zone);
                return t.isValid() ? quint64(t.toSecsSinceEpoch()) : 1u; // "never" is valid too
            });
            out << "| " << id << " | `" << e << "` | " << QString::number(us, 'f', 3) << " | "
                << QString::number(us / offsetUs, 'f', 1) << " | "
                << QString::number(us / fromMsUs, 'f', 1) << " |\n";
            out.flush();
        }
    }
    std::fprintf(stderr, "checksum %llu\n", static_cast<unsigned long long>(sink));
    return 0;
}
