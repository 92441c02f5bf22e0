// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The QML module QRedlock 1.0, loaded from the build tree (import path <build>/qml), against
// three real redis-server processes: the qmldir agrees with what the plugin registers,
// declarative acquire/release (also held back until the component is complete), onLost /
// onExpired handlers, enums, and SingletonJob from QML.

#include "redisserver.h"

#include <QRedlock/DistributedLock>
#include <QRedlock/LockInfo>
#include <QRedlock/LockManager>
#include <QRedlock/SingletonJob>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonObject>
#include <QPluginLoader>
#include <QQmlComponent>
#include <QQmlContext>
#include <QQmlEngine>
#include <QRegularExpression>
#include <QSet>
#include <QTest>

#include <memory>

using namespace QRedlock;
using QRedlockTest::RedisCluster;

namespace {

const QString ImportDir = QStringLiteral(QREDLOCK_QML_IMPORT_DIR);
const QString SourceQmldir = QStringLiteral(QREDLOCK_SOURCE_QMLDIR);

// "key value" lines of a qmldir (comments and blank lines dropped), in order.
QList<QPair<QString, QString>> parseQmldir(const QByteArray &text)
{
    QList<QPair<QString, QString>> entries;
    const QList<QByteArray> lines = text.split('\n');
    for (const QByteArray &raw : lines) {
        const QString line = QString::fromUtf8(raw).trimmed();
        if (line.isEmpty() || line.startsWith(u'#'))
            continue;
        const qsizetype space = line.indexOf(u' ');
        entries.append({ line.left(space), space < 0 ? QString() : line.mid(space + 1).trimmed() });
    }
    return entries;
}

QString qmldirValue(const QList<QPair<QString, QString>> &entries, const QString &key)
{
    for (const auto &e : entries) {
        if (e.first == key)
            return e.second;
    }
    return QString();
}

QByteArray readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

} // namespace

class tst_Qml : public QObject
{
    Q_OBJECT

private:
    // Creates the QML text's root object (owned by the caller); fails the test on errors.
    std::unique_ptr<QObject> create(const QByteArray &qml);
    QVariant serverValue(int server, const QString &key);

    RedisCluster m_cluster;
    std::unique_ptr<QQmlEngine> m_engine;

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void qmldir_matchesPlugin();
    void qmldir_typesAgreeWithRegistration_data();
    void qmldir_typesAgreeWithRegistration();
    void declarative_acquireAndRelease_data();
    void declarative_acquireAndRelease();
    void declarative_waitsForComponentComplete_data();
    void declarative_waitsForComponentComplete();
    void handlers_onLost();
    void inspect_fromQml();
    void handlers_onExpiredAndErrorEnum();
    void binding_remainingValidityIsLive();
    void fencingToken_isANumber();
    void singletonJob_runsFinishesSkips();
    void singletonJob_cancelledAndFailed();
    void singletonJob_scheduleAndRecord();
};

void tst_Qml::initTestCase()
{
    QVERIFY2(m_cluster.start(3),
             qPrintable(QStringLiteral("cannot start 3 redis-server processes (run scripts/setup): ")
                        + m_cluster.errorString()));
}

void tst_Qml::init()
{
    m_engine = std::make_unique<QQmlEngine>();
    m_engine->addImportPath(ImportDir);
    m_engine->rootContext()->setContextProperty(QStringLiteral("serverUrls"), m_cluster.urls());
}

void tst_Qml::cleanup()
{
    m_engine.reset();
    for (int i = 0; i < m_cluster.size(); ++i) {
        if (m_cluster.at(i).isPaused())
            m_cluster.at(i).resume();
    }
}

std::unique_ptr<QObject> tst_Qml::create(const QByteArray &qml)
{
    QQmlComponent component(m_engine.get());
    component.setData(qml, QUrl(QStringLiteral("file:///tst_qml/inline.qml")));
    std::unique_ptr<QObject> object(component.create());
    if (!object)
        qWarning("%s", qPrintable(component.errorString()));
    return object;
}

QVariant tst_Qml::serverValue(int server, const QString &key)
{
    return m_cluster.at(server).command({ QByteArrayLiteral("GET"), key.toUtf8() });
}

// The copy in the build's import folder is the top-level qmldir, and each of its entries
// names what the build produced: the plugin file, its class and URI, the type information.
void tst_Qml::qmldir_matchesPlugin()
{
    const QByteArray source = readFile(SourceQmldir);
    QVERIFY2(!source.isEmpty(), qPrintable(SourceQmldir));
    const QString moduleDir = ImportDir + QStringLiteral("/QRedlock");
    QCOMPARE(readFile(moduleDir + QStringLiteral("/qmldir")), source);

    const auto entries = parseQmldir(source);
    QCOMPARE(qmldirValue(entries, QStringLiteral("module")), QStringLiteral("QRedlock"));

    const QString plugin = qmldirValue(entries, QStringLiteral("plugin"));
    QVERIFY(!plugin.isEmpty());
    const QString pluginFile = moduleDir + QStringLiteral("/lib") + plugin + QStringLiteral(".so");
    QVERIFY2(QFile::exists(pluginFile), qPrintable(pluginFile));
    QPluginLoader loader(pluginFile);
    const QJsonObject meta = loader.metaData();
    QCOMPARE(meta.value(QStringLiteral("IID")).toString(),
             QStringLiteral("org.qt-project.Qt.QQmlEngineExtensionInterface"));
    QCOMPARE(meta.value(QStringLiteral("className")).toString(), qmldirValue(entries, QStringLiteral("classname")));
    QCOMPARE(meta.value(QStringLiteral("uri")).toArray().toVariantList(), QVariantList { QStringLiteral("QRedlock") });

    const QString typeinfo = qmldirValue(entries, QStringLiteral("typeinfo"));
    QVERIFY(!typeinfo.isEmpty());
    QVERIFY2(QFile::exists(moduleDir + u'/' + typeinfo), qPrintable(typeinfo));

    // Every dependency the qmldir declares can be imported.
    for (const auto &e : entries) {
        if (e.first != QLatin1String("depends"))
            continue;
        std::unique_ptr<QObject> o = create("import " + e.second.toUtf8() + "\nimport QtQml\nQtObject {}\n");
        QVERIFY2(o, qPrintable(e.second));
    }
}

// The types the .qmltypes file exports are exactly the module's types, each at 1.0, each
// can be created from QML through the qmldir, and each is (or derives from) the library
// class with that name, with its properties.
void tst_Qml::qmldir_typesAgreeWithRegistration_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("property");
    QTest::newRow("LockManager") << QStringLiteral("LockManager") << QStringLiteral("quorum");
    QTest::newRow("DistributedLock") << QStringLiteral("DistributedLock") << QStringLiteral("remainingValidity");
    QTest::newRow("SingletonJob") << QStringLiteral("SingletonJob") << QStringLiteral("lockAtMostFor");
}

void tst_Qml::qmldir_typesAgreeWithRegistration()
{
    QFETCH(QString, name);
    QFETCH(QString, property);
    const auto entries = parseQmldir(readFile(SourceQmldir));
    const QString typeinfo = ImportDir + QStringLiteral("/QRedlock/") + qmldirValue(entries, QStringLiteral("typeinfo"));
    const QString types = QString::fromUtf8(readFile(typeinfo));
    QVERIFY2(!types.isEmpty(), qPrintable(typeinfo));

    static const QRegularExpression exportRe(QStringLiteral(R"re("([A-Za-z.]+)/([A-Za-z]+) (\d+\.\d+)")re"));
    QSet<QString> exported;
    for (auto it = exportRe.globalMatch(types); it.hasNext();) {
        const QRegularExpressionMatch m = it.next();
        QCOMPARE(m.captured(1), qmldirValue(entries, QStringLiteral("module")));
        QCOMPARE(m.captured(3), QStringLiteral("1.0"));
        exported.insert(m.captured(2));
    }
    // The three object types, and lockInfo: the value type of LockInspection.info.
    const QSet<QString> expected { QStringLiteral("LockManager"), QStringLiteral("DistributedLock"),
                                   QStringLiteral("SingletonJob"), QStringLiteral("lockInfo") };
    QCOMPARE(exported, expected);

    // The library class's own component in the .qmltypes carries its properties.
    const qsizetype at = types.indexOf(QStringLiteral("name: \"QRedlock::%1\"").arg(name));
    QVERIFY2(at >= 0, qPrintable(name));
    const qsizetype next = types.indexOf(QStringLiteral("Component {"), at);
    QVERIFY(types.mid(at, next < 0 ? -1 : next - at).contains(QStringLiteral("name: \"%1\"").arg(property)));

    std::unique_ptr<QObject> o = create("import QRedlock 1.0\n" + name.toUtf8() + " {}\n");
    QVERIFY(o);
    QVERIFY2(o->inherits(qPrintable(QStringLiteral("QRedlock::") + name)), o->metaObject()->className());
    QVERIFY(o->property(qPrintable(property)).isValid());
}

void tst_Qml::declarative_acquireAndRelease_data()
{
    // Objects of a QML tree die in declaration order: with the manager first, the lock
    // outlives its connections and must still get its release out.
    const QByteArray manager = "property LockManager servers: LockManager { servers: serverUrls }\n";
    const QByteArray lock = R"(
            property DistributedLock lock: DistributedLock {
                manager: servers
                resource: "tst-qml:declarative"
                ttl: 5000
                fencing: true
                active: true
                onAcquired: acquiredCount++
                onReleased: releasedCount++
            }
    )";
    QTest::addColumn<QByteArray>("members");
    QTest::newRow("manager declared first") << manager + lock;
    QTest::newRow("lock declared first") << lock + manager;
}

void tst_Qml::declarative_acquireAndRelease()
{
    QFETCH(QByteArray, members);
    std::unique_ptr<QObject> root = create("import QtQml\nimport QRedlock\nQtObject {\n"
                                           "property int acquiredCount: 0\n"
                                           "property int releasedCount: 0\n"
                                           + members + "}\n");
    QVERIFY(root);
    auto *lock = qvariant_cast<DistributedLock *>(root->property("lock"));
    QVERIFY(lock);
    QCOMPARE(lock->state(), DistributedLock::State::Unlocked); // not before the event loop
    QTRY_COMPARE_WITH_TIMEOUT(root->property("acquiredCount").toInt(), 1, 3000);
    QVERIFY(lock->isLocked());
    QVERIFY(lock->fencingToken() > 0);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(serverValue(i, QStringLiteral("tst-qml:declarative")).toByteArray(), lock->token());

    QVERIFY(lock->setProperty("active", false));
    QTRY_COMPARE_WITH_TIMEOUT(root->property("releasedCount").toInt(), 1, 3000);
    for (int i = 0; i < 3; ++i)
        QVERIFY(!serverValue(i, QStringLiteral("tst-qml:declarative")).isValid());

    QVERIFY(lock->setProperty("active", true));
    QTRY_COMPARE_WITH_TIMEOUT(root->property("acquiredCount").toInt(), 2, 3000);
    root.reset(); // destroying the objects releases the lock
    QTRY_VERIFY_WITH_TIMEOUT(!serverValue(0, QStringLiteral("tst-qml:declarative")).isValid()
                                     && !serverValue(1, QStringLiteral("tst-qml:declarative")).isValid()
                                     && !serverValue(2, QStringLiteral("tst-qml:declarative")).isValid(),
                             3000);
}

// beginCreate() sets the properties but holds componentComplete() back: with events
// processed in between, neither the lock nor the job starts before completeCreate().
void tst_Qml::declarative_waitsForComponentComplete_data()
{
    QTest::addColumn<QByteArray>("object");
    QTest::newRow("DistributedLock")
            << QByteArray("DistributedLock { active: true; manager: m; resource: \"tst-qml:incubate-lock\"; onAcquired: started = true }")
           ;
    QTest::newRow("SingletonJob")
            << QByteArray("SingletonJob { active: true; manager: m; resource: \"tst-qml:incubate-job\"; onRun: { started = true; finish() } }")
           ;
}

void tst_Qml::declarative_waitsForComponentComplete()
{
    QFETCH(QByteArray, object);
    const QByteArray qml = "import QtQml\nimport QRedlock\nQtObject {\n"
                           "  property bool started: false\n"
                           "  property LockManager m: LockManager { servers: serverUrls }\n"
                           "  property QtObject thing: " + object + "\n}\n";
    QQmlComponent component(m_engine.get());
    component.setData(qml, QUrl(QStringLiteral("file:///tst_qml/incubate.qml")));
    std::unique_ptr<QObject> root(component.beginCreate(m_engine->rootContext()));
    QVERIFY2(root, qPrintable(component.errorString()));
    QObject *thing = qvariant_cast<QObject *>(root->property("thing"));
    QVERIFY(thing);
    QCOMPARE(thing->property("active").toBool(), true); // reads back what was declared
    QTest::qWait(300);
    QCOMPARE(root->property("started").toBool(), false);
    component.completeCreate();
    QTRY_VERIFY_WITH_TIMEOUT(root->property("started").toBool(), 3000);
}

// LockManager.inspect() from QML: the job's info is a value type with the LockInfo properties.
void tst_Qml::inspect_fromQml()
{
    std::unique_ptr<QObject> root = create(R"(
        import QtQml
        import QRedlock
        QtObject {
            id: root
            property int state: -1
            property string holder: "unset"
            property int ttl: -1
            property LockManager servers: LockManager { servers: serverUrls; holderIdentity: "qml host/1/dash" }
            property DistributedLock lock: DistributedLock {
                manager: servers
                resource: "tst-qml:inspect"
                ttl: 5000
                active: true
                onAcquired: {
                    const job = servers.inspect("tst-qml:inspect")
                    job.finished.connect(function() {
                        root.state = job.info.state
                        root.holder = job.info.holder
                        root.ttl = job.info.remainingTtl
                    })
                }
            }
        }
    )");
    QVERIFY(root);
    QTRY_COMPARE_WITH_TIMEOUT(root->property("holder").toString(), QStringLiteral("qml host/1/dash"), 5000);
    QCOMPARE(root->property("state").toInt(), int(QRedlock::LockInfo::State::Held));
    QVERIFY(root->property("ttl").toInt() > 4000);
}

// The key vanishes from every server: the next extension is refused and onLost runs.
void tst_Qml::handlers_onLost()
{
    std::unique_ptr<QObject> root = create(R"(
        import QtQml
        import QRedlock
        QtObject {
            property int lostCount: 0
            property int expiredCount: 0
            property bool lockedInHandler: true
            property LockManager servers: LockManager { servers: serverUrls; serverTimeout: 100 }
            property DistributedLock lock: DistributedLock {
                manager: servers
                resource: "tst-qml:lost"
                ttl: 900
                autoExtend: true
                active: true
                onLost: { lostCount++; lockedInHandler = locked }
                onExpired: expiredCount++
            }
        }
    )");
    QVERIFY(root);
    auto *lock = qvariant_cast<DistributedLock *>(root->property("lock"));
    QTRY_VERIFY_WITH_TIMEOUT(lock->isLocked(), 3000);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(m_cluster.at(i).command({ "DEL", "tst-qml:lost" }), QVariant(qint64(1)));
    QTRY_COMPARE_WITH_TIMEOUT(root->property("lostCount").toInt(), 1, 2000);
    QCOMPARE(root->property("lockedInHandler").toBool(), false);
    QCOMPARE(root->property("expiredCount").toInt(), 0);
}

// Two of three servers paused: extensions get no quorum, the validity runs out, onExpired
// runs; errorOccurred reported NoQuorum, compared with the enum through the QML type name.
void tst_Qml::handlers_onExpiredAndErrorEnum()
{
    std::unique_ptr<QObject> root = create(R"(
        import QtQml
        import QRedlock
        QtObject {
            property int lostCount: 0
            property int expiredCount: 0
            property bool sawNoQuorum: false
            property bool enumsResolve: DistributedLock.Locked !== undefined && DistributedLock.NoQuorum !== undefined
            property bool stateIsLocked: lock.state === DistributedLock.Locked
            property LockManager servers: LockManager { servers: serverUrls; serverTimeout: 100 }
            property DistributedLock lock: DistributedLock {
                manager: servers
                resource: "tst-qml:expired"
                ttl: 800
                autoExtend: true
                active: true
                onLost: lostCount++
                onExpired: expiredCount++
                onErrorOccurred: error => { if (error === DistributedLock.NoQuorum) sawNoQuorum = true }
            }
        }
    )");
    QVERIFY(root);
    QVERIFY(root->property("enumsResolve").toBool());
    auto *lock = qvariant_cast<DistributedLock *>(root->property("lock"));
    QTRY_VERIFY_WITH_TIMEOUT(lock->isLocked(), 3000);
    QVERIFY(root->property("stateIsLocked").toBool());
    m_cluster.at(1).pause();
    m_cluster.at(2).pause();
    QTRY_COMPARE_WITH_TIMEOUT(root->property("expiredCount").toInt(), 1, 2000);
    QCOMPARE(root->property("lostCount").toInt(), 0);
    QVERIFY(root->property("sawNoQuorum").toBool());
}

// A binding on remainingValidity follows the countdown without a Timer: its NOTIFY fires
// every 100 ms under 10 s left (the binding alone is the receiver that starts it), the
// values fall, and the binding reads 0 once the lock is released.
void tst_Qml::binding_remainingValidityIsLive()
{
    std::unique_ptr<QObject> root = create(R"(
        import QtQml
        import QRedlock
        QtObject {
            id: root
            property var seen: []
            readonly property int remaining: lock.remainingValidity
            onRemainingChanged: root.seen = root.seen.concat([root.remaining])
            property LockManager servers: LockManager { servers: serverUrls }
            property DistributedLock lock: DistributedLock {
                manager: servers
                resource: "tst-qml:live-validity"
                ttl: 3000
                active: true
            }
        }
    )");
    QVERIFY(root);
    auto *lock = qvariant_cast<DistributedLock *>(root->property("lock"));
    QTRY_VERIFY_WITH_TIMEOUT(lock->isLocked(), 3000);
    const int atStart = root->property("seen").toList().size();
    QTest::qWait(1000);
    const QVariantList seen = root->property("seen").toList();
    QStringList text;
    for (const QVariant &v : seen)
        text.append(v.toString());
    const int n = int(seen.size()) - atStart;
    QVERIFY2(n >= 6 && n <= 12, qPrintable(QString::number(n) + u": " + text.join(u' ')));
    for (qsizetype i = 1; i < seen.size(); ++i)
        QVERIFY2(seen.at(i).toInt() < seen.at(i - 1).toInt() || seen.at(i - 1).toInt() == 0,
                 qPrintable(text.join(u' ')));
    QVERIFY(root->property("remaining").toInt() > 1500);
    lock->release();
    QTRY_COMPARE(root->property("remaining").toInt(), 0);
    QTRY_COMPARE(lock->state(), DistributedLock::State::Unlocked);
    const int after = int(root->property("seen").toList().size());
    QTest::qWait(400);
    QCOMPARE(int(root->property("seen").toList().size()), after);
}

// QML sees fencingToken as a number (a type the QML tooling knows); C++ keeps qint64.
void tst_Qml::fencingToken_isANumber()
{
    std::unique_ptr<QObject> root = create(R"(
        import QtQml
        import QRedlock
        QtObject {
            property double token: lock.fencingToken
            property string kind: typeof lock.fencingToken
            property LockManager servers: LockManager { servers: serverUrls }
            property DistributedLock lock: DistributedLock {
                manager: servers
                resource: "tst-qml:fencing-number"
                fencing: true
                active: true
            }
        }
    )");
    QVERIFY(root);
    auto *lock = qvariant_cast<DistributedLock *>(root->property("lock"));
    QCOMPARE(root->property("token").toDouble(), -1.0);
    QTRY_VERIFY_WITH_TIMEOUT(lock->isLocked(), 3000);
    QVERIFY(lock->fencingToken() > 0);
    QCOMPARE(root->property("token").toDouble(), double(lock->fencingToken()));
    QCOMPARE(root->property("kind").toString(), QStringLiteral("number"));
    // The C++ property keeps its type.
    const QMetaObject &base = DistributedLock::staticMetaObject;
    QCOMPARE(base.property(base.indexOfProperty("fencingToken")).metaType(), QMetaType::fromType<qint64>());
}

// Two SingletonJobs (two managers) on one resource, in interval mode: both attempt, they
// never run together, the runs finish from QML, skips are reported, lastRun is set.
void tst_Qml::singletonJob_runsFinishesSkips()
{
    std::unique_ptr<QObject> root = create(R"(
        import QtQml
        import QRedlock
        QtObject {
            id: root
            property var log: []
            property int running: 0
            property int maxRunning: 0
            property int skips: 0
            property LockManager m1: LockManager { servers: serverUrls }
            property LockManager m2: LockManager { servers: serverUrls }
            property Component jobType: Component {
                SingletonJob {
                    id: job
                    property string name
                    resource: "tst-qml:job"
                    interval: 150
                    lockAtLeastFor: 120
                    active: true
                    onRun: {
                        root.running++
                        root.maxRunning = Math.max(root.maxRunning, root.running)
                        root.log = root.log.concat([name])
                        finishLater.start()
                    }
                    onFinished: root.running--
                    onSkipped: root.skips++
                    property Timer finishLater: Timer { interval: 60; onTriggered: job.finish() }
                }
            }
            property SingletonJob a: jobType.createObject(root, { name: "a", manager: m1 })
            property SingletonJob b: jobType.createObject(root, { name: "b", manager: m2 })
        }
    )");
    QVERIFY(root);
    QTest::qWait(1500);
    auto *a = qvariant_cast<SingletonJob *>(root->property("a"));
    auto *b = qvariant_cast<SingletonJob *>(root->property("b"));
    QVERIFY(a && b);
    a->setActive(false);
    b->setActive(false);
    QTRY_COMPARE_WITH_TIMEOUT(root->property("running").toInt(), 0, 1000);
    const QStringList log = root->property("log").toStringList();
    QVERIFY2(log.size() >= 5, qPrintable(log.join(u' ')));
    QCOMPARE(root->property("maxRunning").toInt(), 1);
    QVERIFY(root->property("skips").toInt() >= 1);
    QVERIFY(a->lastRun().isValid() || b->lastRun().isValid());
}

void tst_Qml::singletonJob_cancelledAndFailed()
{
    std::unique_ptr<QObject> root = create(R"(
        import QtQml
        import QRedlock
        QtObject {
            property string failure
            property int cancels: 0
            property bool runningInCancel: true
            property LockManager m: LockManager { servers: serverUrls; serverTimeout: 100 }
            property SingletonJob stuck: SingletonJob {
                manager: m
                resource: "tst-qml:stuck"
                lockAtMostFor: 500
                onCancelled: { cancels++; runningInCancel = running }
            }
            property SingletonJob failing: SingletonJob {
                manager: m
                resource: "tst-qml:failing"
                onRun: fail("no input files")
                onFailed: reason => failure = reason
            }
        }
    )");
    QVERIFY(root);
    QMetaObject::invokeMethod(qvariant_cast<QObject *>(root->property("stuck")), "trigger");
    QMetaObject::invokeMethod(qvariant_cast<QObject *>(root->property("failing")), "trigger");
    QTRY_COMPARE_WITH_TIMEOUT(root->property("failure").toString(), QStringLiteral("no input files"), 3000);
    QTRY_COMPARE_WITH_TIMEOUT(root->property("cancels").toInt(), 1, 3000);
    QCOMPARE(root->property("runningInCancel").toBool(), false);
}

// A cron schedule in a time zone from QML, the MisfirePolicy enum, the other scheduling
// properties, lastRecord after a run, refreshRecord(), errorOccurred for a bad schedule.
void tst_Qml::singletonJob_scheduleAndRecord()
{
    std::unique_ptr<QObject> root = create(R"(
        import QtQml
        import QRedlock
        QtObject {
            property int runs: 0
            property string outcome
            property string holder
            property int refreshes: 0
            property string problem
            property bool skipPolicy: job.misfirePolicy === SingletonJob.Skip
            property LockManager m: LockManager { servers: serverUrls; holderIdentity: "qml-instance" }
            property SingletonJob job: SingletonJob {
                manager: m
                resource: "tst-qml:scheduled"
                schedule: "*/2 * * * * *"
                timeZone: "Europe/Berlin"
                misfirePolicy: SingletonJob.RunOnce
                misfireGrace: 60000
                retryFailedRuns: true
                fencing: true
                lockAtMostFor: 3000
                oncePerPeriod: 0
                active: true
                onRun: { runs++; finish() }
                onLastRecordChanged: { outcome = lastRecord.outcome; holder = lastRecord.holder }
                onRecordRefreshed: refreshes++
            }
            property SingletonJob broken: SingletonJob {
                manager: m
                resource: "tst-qml:broken"
                schedule: "* * *"
                active: true // the refused attempt says it again, once the handler is connected
                onErrorOccurred: message => problem = message
            }
        }
    )");
    QVERIFY(root);
    auto *job = qvariant_cast<SingletonJob *>(root->property("job"));
    QVERIFY(job);
    QCOMPARE(job->timeZone(), QStringLiteral("Europe/Berlin"));
    QCOMPARE(job->misfirePolicy(), SingletonJob::MisfirePolicy::RunOnce);
    QCOMPARE(job->misfireGrace(), qint64(60000));
    QVERIFY(job->retryFailedRuns());
    QVERIFY(job->fencing());
    QCOMPARE(root->property("skipPolicy").toBool(), false);
    QVERIFY(job->nextOccurrence().isValid());
    QVERIFY(job->nextOccurrence() > QDateTime::currentDateTimeUtc());
    QTRY_VERIFY_WITH_TIMEOUT(root->property("runs").toInt() >= 1, 4000);
    QTRY_COMPARE_WITH_TIMEOUT(root->property("outcome").toString(), QStringLiteral("finished"), 3000);
    QCOMPARE(root->property("holder").toString(), QStringLiteral("qml-instance"));
    QVERIFY(job->lastRecord().value(QStringLiteral("fencingToken")).toLongLong() >= 1);
    QMetaObject::invokeMethod(job, "refreshRecord");
    QTRY_VERIFY_WITH_TIMEOUT(root->property("refreshes").toInt() >= 1, 3000);
    QTRY_VERIFY2(root->property("problem").toString().contains(QLatin1String("schedule")),
             qPrintable(root->property("problem").toString()));
}

QTEST_MAIN(tst_Qml)
#include "tst_qml.moc"
