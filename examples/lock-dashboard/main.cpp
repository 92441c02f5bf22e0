// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// lock-dashboard: a Qt Quick window over the QML module QRedlock. One card per lock shows
// its state, the remaining validity as a live countdown bar, the fencing token and what
// each server said in the last round; a strip shows each server's connection. Buttons
// acquire and release. Start two dashboards against the same servers to watch them contend.
//
//   lock-dashboard -s redis://127.0.0.1:7001 -s redis://127.0.0.1:7002 -s redis://127.0.0.1:7003
//
// For unattended runs: --auto-acquire takes every lock at start, --screenshot FILE saves the
// window once all locks are held and exits, --quit-after MS bounds the run.

#include <QCommandLineParser>
#include <QFileInfo>
#include <QGuiApplication>
#include <QImage>
#include <QQmlApplicationEngine>
#include <QQmlContext>
#include <QQuickWindow>
#include <QTimer>

#include <cstdio>

namespace {

void printLine(const QString &text)
{
    std::fputs((text + u'\n').toLocal8Bit().constData(), stdout);
    std::fflush(stdout);
}

} // namespace

// What the QML side gets from the command line, and where it reports to.
class Dashboard : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QStringList servers MEMBER servers CONSTANT)
    Q_PROPERTY(QStringList lockNames MEMBER lockNames CONSTANT)
    Q_PROPERTY(int ttl MEMBER ttl CONSTANT)
    Q_PROPERTY(bool autoAcquire MEMBER autoAcquire CONSTANT)

public:
    QStringList servers;
    QStringList lockNames;
    int ttl = 10000;
    bool autoAcquire = false;
    QString screenshotPath;
    QQmlApplicationEngine *engine = nullptr;

    // A line on stdout ("locked orders, fencing token 7", ...).
    Q_INVOKABLE void report(const QString &line) { printLine(line); }

    // Called by the window once every lock is held: with --screenshot, grab the window a
    // moment later (the countdown bars have moved) and exit.
    Q_INVOKABLE void allLocked()
    {
        if (screenshotPath.isEmpty() || m_grabbing)
            return;
        m_grabbing = true;
        QTimer::singleShot(1200, this, [this] {
            const QList<QObject *> roots = engine->rootObjects();
            auto *window = roots.isEmpty() ? nullptr : qobject_cast<QQuickWindow *>(roots.constFirst());
            const QImage image = window ? window->grabWindow() : QImage();
            if (image.isNull() || !image.save(screenshotPath)) {
                printLine(QStringLiteral("screenshot failed: %1").arg(screenshotPath));
                QCoreApplication::exit(1);
                return;
            }
            printLine(QStringLiteral("screenshot saved: %1 (%2x%3)").arg(screenshotPath).arg(image.width()).arg(image.height()));
            QCoreApplication::exit(0);
        });
    }

private:
    bool m_grabbing = false;
};

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("lock-dashboard"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("A live view of QRedlock distributed locks."));
    parser.addHelpOption();
    const QCommandLineOption serverOpt({ QStringLiteral("s"), QStringLiteral("server") },
                                       QStringLiteral("A Redis server URL (repeat; default: QREDLOCK_SERVERS)."),
                                       QStringLiteral("url"));
    const QCommandLineOption lockOpt({ QStringLiteral("l"), QStringLiteral("lock") },
                                     QStringLiteral("A lock to show (repeat; default: orders, payments, reports)."),
                                     QStringLiteral("name"));
    const QCommandLineOption ttlOpt(QStringLiteral("ttl"), QStringLiteral("Lock TTL in ms."), QStringLiteral("ms"),
                                    QStringLiteral("10000"));
    const QCommandLineOption autoOpt(QStringLiteral("auto-acquire"), QStringLiteral("Acquire every lock at start."));
    const QCommandLineOption shotOpt(QStringLiteral("screenshot"),
                                     QStringLiteral("Once all locks are held, save the window to FILE and exit."),
                                     QStringLiteral("file"));
    const QCommandLineOption quitOpt(QStringLiteral("quit-after"), QStringLiteral("Exit after MS (code 3)."),
                                     QStringLiteral("ms"), QStringLiteral("0"));
    const QCommandLineOption importOpt(QStringLiteral("import-path"),
                                       QStringLiteral("Where the QRedlock QML module is (a folder holding QRedlock/)."),
                                       QStringLiteral("dir"));
    parser.addOptions({ serverOpt, lockOpt, ttlOpt, autoOpt, shotOpt, quitOpt, importOpt });
    parser.process(app);

    Dashboard dashboard;
    dashboard.servers = parser.values(serverOpt);
    if (dashboard.servers.isEmpty())
        dashboard.servers = qEnvironmentVariable("QREDLOCK_SERVERS").split(u',', Qt::SkipEmptyParts);
    if (dashboard.servers.isEmpty()) {
        std::fprintf(stderr, "lock-dashboard: no servers: give -s URL or set QREDLOCK_SERVERS\n");
        return 2;
    }
    dashboard.lockNames = parser.values(lockOpt);
    if (dashboard.lockNames.isEmpty())
        dashboard.lockNames = { QStringLiteral("orders"), QStringLiteral("payments"), QStringLiteral("reports") };
    dashboard.ttl = parser.value(ttlOpt).toInt();
    dashboard.autoAcquire = parser.isSet(autoOpt) || parser.isSet(shotOpt);
    dashboard.screenshotPath = parser.value(shotOpt);

    QQmlApplicationEngine engine;
    dashboard.engine = &engine;
    // The module from the command line, else from the build tree (in-tree builds) or next to
    // the installed QRedlock package (standalone builds); QML_IMPORT_PATH and Qt's own QML
    // folder are searched too.
    QStringList importDirs = parser.values(importOpt);
#ifdef LOCK_DASHBOARD_QML_IMPORT_DIR
    importDirs << QStringLiteral(LOCK_DASHBOARD_QML_IMPORT_DIR);
#endif
    for (const QString &dir : std::as_const(importDirs)) {
        if (QFileInfo::exists(dir + QStringLiteral("/QRedlock/qmldir")))
            engine.addImportPath(dir);
    }
    // Required properties of the window, not context properties: QML tooling sees their types.
    engine.setInitialProperties({
            { QStringLiteral("servers"), dashboard.servers },
            { QStringLiteral("lockNames"), dashboard.lockNames },
            { QStringLiteral("ttl"), dashboard.ttl },
            { QStringLiteral("autoAcquire"), dashboard.autoAcquire },
            { QStringLiteral("reporter"), QVariant::fromValue<QObject *>(&dashboard) },
    });
    QObject::connect(&engine, &QQmlApplicationEngine::objectCreationFailed, &app,
                     [] { QCoreApplication::exit(1); }, Qt::QueuedConnection);
    engine.load(QUrl(QStringLiteral("qrc:/lock-dashboard/Main.qml")));

    if (const int quitAfter = parser.value(quitOpt).toInt(); quitAfter > 0) {
        QTimer::singleShot(quitAfter, &app, [] {
            printLine(QStringLiteral("quitting: --quit-after elapsed"));
            QCoreApplication::exit(3);
        });
    }
    return QGuiApplication::exec();
}

#include "main.moc"
