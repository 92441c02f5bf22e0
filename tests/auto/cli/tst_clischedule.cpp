// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The qredlock command-line tool, end to end: `schedule` (a distributed cron) and
// `status --job`, with real servers, several tool processes and real child commands.

#include "clifixture.h"

#include <QDateTime>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QTest>

#include <algorithm>
#include <csignal>

using namespace QRedlockCliTest;
using namespace QRedlockTest;

class tst_CliSchedule : public CliFixture
{
    Q_OBJECT

private:
    QJsonObject jobJson(const char *resource, int *exitCode = nullptr);

private Q_SLOTS:
    void initTestCase() { setUpCase(); }
    void init() { setUp(); }
    void cleanup() { tearDown(); }

    void invalidScheduleIsAUsageError_data();
    void invalidScheduleIsAUsageError();
    void threeInstancesRunEachOccurrenceOnce();
    void sigtermCancelsTheRunningCommand();
    void statusJobWithoutARecord();
};

QJsonObject tst_CliSchedule::jobJson(const char *resource, int *exitCode)
{
    const Outcome o = runTool(serverArgs() << "status" << "--job" << resource << "--json");
    if (exitCode)
        *exitCode = o.exitCode;
    return QJsonDocument::fromJson(o.out).object();
}

void tst_CliSchedule::invalidScheduleIsAUsageError_data()
{
    QTest::addColumn<QStringList>("options");
    QTest::addColumn<QString>("message");
    QTest::newRow("minute out of range") << sl({ "--cron", "61 * * * *" }) << "minute";
    QTest::newRow("weekday 7") << sl({ "--cron", "0 2 * * 7" }) << "day-of-week";
    QTest::newRow("field count") << sl({ "--cron", "0 2 * *" }) << "fields";
    QTest::newRow("unknown macro") << sl({ "--cron", "@fortnightly" }) << "@fortnightly";
    QTest::newRow("zone") << sl({ "--cron", "@daily", "--tz", "Europe/Atlantis" }) << "Europe/Atlantis";
    QTest::newRow("lease too short") << sl({ "--cron", "@daily", "--lock-at-most-for", "500ms" })
                                     << "--lock-at-most-for 500 ms is too short";
}

void tst_CliSchedule::invalidScheduleIsAUsageError()
{
    QFETCH(QStringList, options);
    QFETCH(QString, message);
    const Outcome o = runTool(serverArgs() << "schedule" << "--resource" << "bad" << options << "--" << "true");
    QCOMPARE(o.exitCode, 64);
    QVERIFY2(QString::fromUtf8(o.err).contains(message), o.err.constData());
    QCOMPARE(o.err.count('\n'), 1);
}

void tst_CliSchedule::threeInstancesRunEachOccurrenceOnce()
{
    // The same command line on three "machines", every 2 seconds: each occurrence runs once,
    // on one of them, with its instant in the environment.
    QList<QProcess *> tools;
    for (int i = 0; i < 3; ++i) {
        tools << startTool(serverArgs() << "schedule" << "--resource" << "every2s" << "--cron" << "*/2 * * * * *"
                                        << "--tz" << "Europe/Berlin" << "--"
                                        << "sh" << "-c"
                                        << "echo \"$QREDLOCK_OCCURRENCE_MS $QREDLOCK_OCCURRENCE ${#QREDLOCK_TOKEN}\" >> runs");
    }
    const qint64 start = nowMs();
    QTRY_VERIFY_WITH_TIMEOUT(linesOf(file("runs")).size() >= 3, 12000);
    for (QProcess *p : tools)
        ::kill(pid_t(p->processId()), SIGTERM);
    for (QProcess *p : tools) {
        const Outcome o = finish(p);
        QCOMPARE(o.exitCode, 0);
        QCOMPARE(o.status, QProcess::NormalExit);
    }
    const QStringList runs = linesOf(file("runs"));
    QSet<qint64> seen;
    for (const QString &line : runs) {
        const QStringList f = line.split(u' ');
        QCOMPARE(f.size(), 3);
        const qint64 ms = f.at(0).toLongLong();
        QVERIFY2(!seen.contains(ms), qPrintable(u"ran twice: " + line));
        seen.insert(ms);
        QCOMPARE(ms % 2000, 0);
        QVERIFY2(ms >= start - 2000, qPrintable(line));
        QCOMPARE(QDateTime::fromString(f.at(1), Qt::ISODateWithMs).toMSecsSinceEpoch(), ms);
        QVERIFY2(f.at(1).endsWith(u'Z'), qPrintable(line));
        QVERIFY2(f.at(2).toInt() > 40, qPrintable(line)); // QREDLOCK_TOKEN was set
    }
    // Consecutive occurrences, none missed while three instances were up.
    QList<qint64> sorted(seen.cbegin(), seen.cend());
    std::sort(sorted.begin(), sorted.end());
    for (int i = 1; i < sorted.size(); ++i)
        QCOMPARE(sorted.at(i) - sorted.at(i - 1), 2000);

    // Every instance reads the same record.
    int code = -1;
    const QJsonObject record = jobJson("every2s", &code);
    QCOMPARE(code, 0);
    QCOMPARE(record.value(QLatin1String("outcome")).toString(), QStringLiteral("finished"));
    QVERIFY2(!record.value(QLatin1String("holder")).toString().isEmpty(), QJsonDocument(record).toJson().constData());
    QCOMPARE(record.value(QLatin1String("schedule")).toString(), QStringLiteral("*/2 * * * * *"));
    QCOMPARE(record.value(QLatin1String("timeZone")).toString(), QStringLiteral("Europe/Berlin"));
    QVERIFY(sorted.contains(qint64(record.value(QLatin1String("occurrenceMs")).toDouble())));
    const QDateTime next = QDateTime::fromString(record.value(QLatin1String("next")).toString(), Qt::ISODateWithMs);
    QVERIFY(next.isValid());
    QCOMPARE(next.toMSecsSinceEpoch() % 2000, 0);

    const Outcome text = runTool(serverArgs() << "status" << "--job" << "every2s");
    QCOMPARE(text.exitCode, 0);
    QVERIFY2(text.out.contains(": finished on "), text.out.constData());
    QVERIFY2(text.out.contains("next occurrence "), text.out.constData());
}

void tst_CliSchedule::sigtermCancelsTheRunningCommand()
{
    writeScript("job.sh", "trap 'echo term >> log; exit 3' TERM; echo started >> log; WAITLOOP");
    QProcess *tool = startTool(serverArgs() << "schedule" << "--resource" << "longjob" << "--cron" << "* * * * * *"
                                            << "--" << "sh" << file("job.sh"));
    QVERIFY(!waitForLine(file("log"), "started").isEmpty());
    ::kill(pid_t(tool->processId()), SIGTERM);
    const Outcome o = finish(tool);
    QCOMPARE(o.exitCode, 0);
    QVERIFY(!waitForLine(file("log"), "term", 2000).isEmpty());
    QVERIFY2(o.err.contains("stopping the command"), o.err.constData());
    const QJsonObject record = jobJson("longjob");
    QCOMPARE(record.value(QLatin1String("outcome")).toString(), QStringLiteral("cancelled"));
    // The lock went with it: nothing of the occurrence's key is left on the servers.
    const qint64 occurrence = qint64(record.value(QLatin1String("occurrenceMs")).toDouble());
    const QByteArray key = "longjob:at:" + QByteArray::number(occurrence);
    for (int i = 0; i < m_cluster.size(); ++i)
        QCOMPARE(m_cluster.at(i).command({ "EXISTS", key }).toLongLong(), 0);
}

void tst_CliSchedule::statusJobWithoutARecord()
{
    int code = -1;
    const QJsonObject record = jobJson("never-ran", &code);
    QCOMPARE(code, 0);
    QCOMPARE(record.value(QLatin1String("recorded")).toBool(), false);
    const Outcome down = runTool(QStringList { QStringLiteral("-s"), QStringLiteral("redis://127.0.0.1:%1").arg(freePort()) }
                                 << "status" << "--job" << "x");
    QCOMPARE(down.exitCode, 68);
}

QTEST_GUILESS_MAIN(tst_CliSchedule)
#include "tst_clischedule.moc"
