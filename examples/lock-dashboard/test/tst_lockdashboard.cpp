// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The dashboard under a virtual X server (xvfb-run), against three real servers it did not
// start itself: it acquires its locks, takes a screenshot of its own window and exits. The
// test checks the narration (every lock held, with a fencing token), the fencing counters
// on the servers and the release at exit, and that the picture is a real window showing the locks held (the green
// LOCKED badges and countdown bars are there).

#include "redisserver.h"

#include <QColor>
#include <QImage>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

using QRedlockTest::RedisCluster;

class tst_LockDashboard : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void autoAcquire_screenshotShowsLocksHeld();

private:
    RedisCluster m_cluster;
};

void tst_LockDashboard::initTestCase()
{
    QVERIFY2(m_cluster.start(3), qPrintable(QStringLiteral("cannot start 3 redis-server processes (run scripts/setup): ")
                                            + m_cluster.errorString()));
}

void tst_LockDashboard::autoAcquire_screenshotShowsLocksHeld()
{
    const QString xvfbRun = QStringLiteral(XVFB_RUN_EXECUTABLE);
    QVERIFY2(!xvfbRun.isEmpty(), "xvfb-run not found: install the Debian package xvfb (scripts/setup)");
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString shot = dir.filePath(QStringLiteral("dashboard.png"));

    QStringList args { QStringLiteral("-a"), QStringLiteral(LOCK_DASHBOARD_EXECUTABLE) };
    const QStringList urls = m_cluster.urls();
    for (const QString &url : urls)
        args << QStringLiteral("-s") << url;
    args << QStringLiteral("-l") << QStringLiteral("orders") << QStringLiteral("-l") << QStringLiteral("payments")
         << QStringLiteral("--ttl") << QStringLiteral("8000") << QStringLiteral("--auto-acquire")
         << QStringLiteral("--screenshot") << shot << QStringLiteral("--quit-after") << QStringLiteral("45000");
    QProcess process;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove(QStringLiteral("QT_QPA_PLATFORM")); // the real xcb platform, on the virtual display
    // Qt Quick's software renderer: Xvfb has no GPU anyway, and Mesa's GLX driver leaks a few
    // blocks at exit that would fail the sanitizer build (they are not QRedlock's).
    env.insert(QStringLiteral("QT_QUICK_BACKEND"), QStringLiteral("software"));
    env.insert(QStringLiteral("QT_XCB_GL_INTEGRATION"), QStringLiteral("none"));
    // Under the sanitizer build: the GUI process loads X, D-Bus and font libraries whose
    // caches LeakSanitizer reports at exit with stacks too short to attribute (frames in
    // unloaded modules). Address and UB checks stay on; leak checks of the library and the
    // QML module are done by tst_qml and the other suites, in processes without X.
    if (env.contains(QStringLiteral("ASAN_OPTIONS")))
        env.insert(QStringLiteral("ASAN_OPTIONS"), env.value(QStringLiteral("ASAN_OPTIONS")) + u":detect_leaks=0");
    process.setProcessEnvironment(env);
    process.start(xvfbRun, args);
    QVERIFY2(process.waitForStarted(5000), qPrintable(process.errorString()));
    QVERIFY2(process.waitForFinished(60000), "the dashboard did not exit");
    const QString out = QString::fromLocal8Bit(process.readAllStandardOutput());
    const QString err = QString::fromLocal8Bit(process.readAllStandardError());
    const QString both = QStringLiteral("\nstdout:\n%1\nstderr:\n%2").arg(out, err);
    QVERIFY2(process.exitStatus() == QProcess::NormalExit && process.exitCode() == 0,
             qPrintable(QStringLiteral("exit code %1%2").arg(process.exitCode()).arg(both)));

    // The narration: both locks held, with fencing tokens, before the screenshot.
    for (const char *name : { "orders", "payments" }) {
        const QString expected = QStringLiteral("locked %1, fencing token ").arg(QLatin1String(name));
        QVERIFY2(out.contains(expected), qPrintable(expected + both));
    }
    QVERIFY2(out.contains(QLatin1String("screenshot saved: ")), qPrintable(both));
    QVERIFY2(out.indexOf(QLatin1String("locked payments")) < out.indexOf(QLatin1String("screenshot saved")), qPrintable(both));

    // The picture: a window-sized image with real content, showing LOCKED badges
    // (#2e7d32) and the countdown bars (#43a047).
    QImage image(shot);
    QVERIFY2(!image.isNull(), qPrintable(shot));
    QVERIFY2(image.width() >= 600 && image.height() >= 300,
             qPrintable(QStringLiteral("%1x%2").arg(image.width()).arg(image.height())));
    image = image.convertToFormat(QImage::Format_RGB32);
    QSet<QRgb> colours;
    qint64 badgePixels = 0;
    qint64 barPixels = 0;
    for (int y = 0; y < image.height(); ++y) {
        const QRgb *line = reinterpret_cast<const QRgb *>(image.constScanLine(y));
        for (int x = 0; x < image.width(); ++x) {
            const QRgb c = line[x] & 0xffffff;
            colours.insert(c);
            badgePixels += c == 0x2e7d32 ? 1 : 0;
            barPixels += c == 0x43a047 ? 1 : 0;
        }
    }
    QVERIFY2(colours.size() >= 50, qPrintable(QStringLiteral("only %1 colours: a blank window?").arg(colours.size())));
    QVERIFY2(badgePixels >= 2 * 500, qPrintable(QStringLiteral("LOCKED badge pixels: %1").arg(badgePixels)));
    QVERIFY2(barPixels >= 2 * 2000, qPrintable(QStringLiteral("countdown bar pixels: %1").arg(barPixels)));

    // The locks were really taken on the servers: each fencing counter is at the token the
    // dashboard reported on a quorum of them; and closing the window released the locks.
    for (const char *name : { "orders", "payments" }) {
        static const QRegularExpression tokenRe(QStringLiteral("locked (\\w+), fencing token (\\d+)"));
        qint64 token = -1;
        for (auto it = tokenRe.globalMatch(out); it.hasNext();) {
            const QRegularExpressionMatch m = it.next();
            if (m.captured(1) == QLatin1String(name))
                token = m.captured(2).toLongLong();
        }
        QVERIFY(token > 0);
        int atToken = 0;
        for (int i = 0; i < m_cluster.size(); ++i) {
            const QVariant counter = m_cluster.at(i).command({ "GET", QByteArray(name) + ":fencing" });
            atToken += counter.toByteArray().toLongLong() == token ? 1 : 0;
            QTRY_VERIFY2_WITH_TIMEOUT(!m_cluster.at(i).command({ "GET", QByteArray(name) }).isValid(), name, 3000);
        }
        QVERIFY2(atToken >= 2, name);
    }
    if (qEnvironmentVariableIsSet("LOCK_DASHBOARD_KEEP_SCREENSHOT")) {
        const QString keep = qEnvironmentVariable("LOCK_DASHBOARD_KEEP_SCREENSHOT");
        QFile::remove(keep);
        QVERIFY(QFile::copy(shot, keep));
    }
}

QTEST_MAIN(tst_LockDashboard)
#include "tst_lockdashboard.moc"
