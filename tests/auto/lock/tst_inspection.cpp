// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// LockManager::inspect() / forceRelease(), LockInfo and holderIdentity against real
// redis-server processes: held, free, split, foreign-held and unreachable locks, operator
// releases with the right, a wrong and an empty token.
#include <QRedlock/DistributedLock>
#include <QRedlock/LockInfo>
#include <QRedlock/LockInspection>
#include <QRedlock/LockManager>

#include "redisserver.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QPointer>
#include <QtCore/QRegularExpression>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using QRedlock::DistributedLock;
using QRedlock::LockInfo;
using QRedlock::LockInspection;
using QRedlock::LockManager;
using QRedlockTest::RedisCluster;

namespace {

// Runs the job to its end; returns what it found.
LockInfo await(LockInspection *job)
{
    job->setAutoDelete(false);
    if (!job->isFinished()) {
        QSignalSpy finished(job, &LockInspection::finished);
        if (!finished.wait(5000))
            qWarning("inspection did not finish within 5 s");
    }
    const LockInfo info = job->info();
    delete job;
    return info;
}

QVariantMap serverOf(const LockInfo &info, int i)
{
    return info.servers().value(i).toMap();
}

} // namespace

class tst_Inspection : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void heldByUs_showsIdentityTtlAndCounter();
    void free();
    void split();
    void foreignHolder();
    void unreachable_isUnknown();
    void neverFinishesSynchronously_andDeletesItself();
    void forceRelease_rightWrongAndEmptyToken();
    void holderIdentity_tokenFormat_data();
    void holderIdentity_tokenFormat();

private:
    RedisCluster m_cluster;
    std::unique_ptr<LockManager> m_manager;
};

void tst_Inspection::initTestCase()
{
    QVERIFY2(m_cluster.start(3), qPrintable(m_cluster.errorString()));
}

void tst_Inspection::init()
{
    for (int i = 0; i < m_cluster.size(); ++i)
        m_cluster.at(i).command({ "FLUSHALL" });
    m_manager = std::make_unique<LockManager>();
    QVERIFY(m_manager->setServers(m_cluster.urls()));
    m_manager->setServerTimeout(200);
}

void tst_Inspection::heldByUs_showsIdentityTtlAndCounter()
{
    m_manager->setHolderIdentity(QStringLiteral("report host/42/nightly report"));
    DistributedLock lock;
    lock.setManager(m_manager.get());
    lock.setResource(QStringLiteral("held"));
    lock.setTtl(5000);
    lock.setFencing(true);
    QSignalSpy acquired(&lock, &DistributedLock::acquired);
    lock.tryAcquire();
    QVERIFY(acquired.wait(5000));

    const LockInfo info = await(m_manager->inspect(QStringLiteral("held")));
    QCOMPARE(info.state(), LockInfo::State::Held);
    QCOMPARE(info.holder(), QStringLiteral("report host/42/nightly report"));
    QCOMPARE(info.token(), lock.token());
    QCOMPARE(info.holderServers(), 3);
    QCOMPARE(info.answeredServers(), 3);
    QVERIFY2(info.remainingTtl() > 4000 && info.remainingTtl() <= 5000, qPrintable(QString::number(info.remainingTtl())));
    QCOMPARE(info.fencingCounter(), lock.fencingToken());
    QCOMPARE(info.resource(), QStringLiteral("held"));
    QVERIFY(info.errorString().isEmpty());
    for (int i = 0; i < 3; ++i) {
        const QVariantMap m = serverOf(info, i);
        QCOMPARE(m.value(QStringLiteral("url")).toString(), m_cluster.at(i).url());
        QCOMPARE(m.value(QStringLiteral("exists")).toBool(), true);
        QCOMPARE(m.value(QStringLiteral("holder")).toString(), info.holder());
        QVERIFY(m.value(QStringLiteral("pttl")).toLongLong() > 4000);
    }
    // Readable through the meta-object too, as QML reads it.
    const QVariant v = QVariant::fromValue(info);
    QCOMPARE(LockInfo::staticMetaObject.property(LockInfo::staticMetaObject.indexOfProperty("holder"))
                     .readOnGadget(v.constData()).toString(),
             info.holder());
}

void tst_Inspection::free()
{
    const LockInfo info = await(m_manager->inspect(QStringLiteral("nothing")));
    QCOMPARE(info.state(), LockInfo::State::Free);
    QCOMPARE(info.answeredServers(), 3);
    QCOMPARE(info.holder(), QString());
    QCOMPARE(info.remainingTtl(), -1);
    QCOMPARE(info.fencingCounter(), qint64(-1));
}

void tst_Inspection::split()
{
    m_cluster.at(0).command({ "SET", "split", "tokenA", "PX", "10000" });
    m_cluster.at(1).command({ "SET", "split", "tokenB", "PX", "10000" });
    const LockInfo info = await(m_manager->inspect(QStringLiteral("split")));
    QCOMPARE(info.state(), LockInfo::State::Split);
    QCOMPARE(serverOf(info, 2).value(QStringLiteral("exists")).toBool(), false);
}

void tst_Inspection::foreignHolder()
{
    // Another Redlock client's token: held, with no identity to show.
    for (int i = 0; i < 2; ++i)
        m_cluster.at(i).command({ "SET", "foreign", "0123456789abcdef", "PX", "10000" });
    const LockInfo info = await(m_manager->inspect(QStringLiteral("foreign")));
    QCOMPARE(info.state(), LockInfo::State::Held);
    QCOMPARE(info.holder(), QString());
    QCOMPARE(info.token(), QByteArray("0123456789abcdef"));
    QCOMPARE(info.holderServers(), 2);
}

void tst_Inspection::unreachable_isUnknown()
{
    m_cluster.at(1).pause();
    m_cluster.at(2).pause();
    const LockInfo info = await(m_manager->inspect(QStringLiteral("any")));
    m_cluster.at(1).resume();
    m_cluster.at(2).resume();
    QCOMPARE(info.state(), LockInfo::State::Unknown);
    QCOMPARE(info.answeredServers(), 1);
    QVERIFY2(info.errorString().contains(m_cluster.at(1).url()), qPrintable(info.errorString()));
    QCOMPARE(serverOf(info, 1).value(QStringLiteral("failure")).toString(), QStringLiteral("unreachable"));
}

void tst_Inspection::neverFinishesSynchronously_andDeletesItself()
{
    QPointer<LockInspection> job = m_manager->inspect(QString());
    QSignalSpy finished(job.data(), &LockInspection::finished);
    QCOMPARE(finished.count(), 0);
    QVERIFY(finished.wait(2000));
    QVERIFY(job); // deleted later, not in the signal
    QTRY_VERIFY(!job);

    LockManager none;
    const LockInfo info = await(none.inspect(QStringLiteral("x")));
    QCOMPARE(info.state(), LockInfo::State::Unknown);
    QVERIFY2(info.errorString().contains(u"no servers"), qPrintable(info.errorString()));
}

void tst_Inspection::forceRelease_rightWrongAndEmptyToken()
{
    DistributedLock lock;
    lock.setManager(m_manager.get());
    lock.setResource(QStringLiteral("forced"));
    lock.setTtl(1500);
    lock.setAutoExtend(true);
    QSignalSpy acquired(&lock, &DistributedLock::acquired);
    QSignalSpy lost(&lock, &DistributedLock::lost);
    lock.tryAcquire();
    QVERIFY(acquired.wait(5000));

    // A wrong token removes nothing.
    LockInfo info = await(m_manager->forceRelease(QStringLiteral("forced"), QByteArrayLiteral("wrong")));
    QCOMPARE(info.state(), LockInfo::State::Held);
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(serverOf(info, i).value(QStringLiteral("removed")).toBool(), false);
        QCOMPARE(serverOf(info, i).value(QStringLiteral("removedToken")).toByteArray(), lock.token());
    }

    // The right token removes it everywhere; the holder learns at its next extension.
    info = await(m_manager->forceRelease(QStringLiteral("forced"), lock.token()));
    QCOMPARE(info.state(), LockInfo::State::Free);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(serverOf(info, i).value(QStringLiteral("removed")).toBool(), true);
    QTRY_COMPARE_WITH_TIMEOUT(lost.count(), 1, 1500);

    // An empty token removes whatever holds the key, with a warning naming the holder.
    for (int i = 0; i < 3; ++i)
        m_cluster.at(i).command({ "SET", "forced", "someone-else", "PX", "60000" });
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("force-released 'forced' on .*someone-")));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("force-released 'forced' on .*someone-")));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("force-released 'forced' on .*someone-")));
    info = await(m_manager->forceRelease(QStringLiteral("forced"), QByteArray()));
    QCOMPARE(info.state(), LockInfo::State::Free);
    for (int i = 0; i < 3; ++i)
        QVERIFY(!m_cluster.at(i).command({ "GET", "forced" }).isValid());
}

void tst_Inspection::holderIdentity_tokenFormat_data()
{
    QTest::addColumn<QString>("identity");
    QTest::addColumn<QString>("expected"); // what inspect() reads back; "*": a prefix of identity
    QTest::newRow("default") << QString() << QString();
    QTest::newRow("spaces and unicode") << QStringLiteral("Büro PC/7/Jahres bericht") << QStringLiteral("Büro PC/7/Jahres bericht");
    QTest::newRow("very long") << QString(400, u'é') << QStringLiteral("*");
}

void tst_Inspection::holderIdentity_tokenFormat()
{
    QFETCH(QString, identity);
    QFETCH(QString, expected);
    QCoreApplication::setApplicationName(QStringLiteral("tst_inspection"));
    m_manager->setHolderIdentity(identity);
    if (identity.isEmpty()) {
        QVERIFY2(m_manager->holderIdentity().endsWith(u'/' + QString::number(QCoreApplication::applicationPid())
                                                      + u"/tst_inspection"),
                 qPrintable(m_manager->holderIdentity()));
        expected = m_manager->holderIdentity();
    }
    DistributedLock lock;
    lock.setManager(m_manager.get());
    lock.setResource(QStringLiteral("format"));
    lock.setTtl(5000);
    QSignalSpy acquired(&lock, &DistributedLock::acquired);
    lock.tryAcquire();
    QVERIFY(acquired.wait(5000));
    const QByteArray token = lock.token();
    QVERIFY(token.size() <= 255);
    for (int i = 0; i < 40; ++i)
        QVERIFY((token.at(i) >= '0' && token.at(i) <= '9') || (token.at(i) >= 'a' && token.at(i) <= 'f'));
    for (const char c : token)
        QVERIFY2(c > 0x20 && c < 0x7f, token.constData()); // printable, no whitespace
    const LockInfo info = await(m_manager->inspect(QStringLiteral("format")));
    QCOMPARE(info.token(), token);
    if (expected == QLatin1String("*"))
        QVERIFY(!info.holder().isEmpty() && identity.startsWith(info.holder()));
    else
        QCOMPARE(info.holder(), expected);
}

QTEST_GUILESS_MAIN(tst_Inspection)
#include "tst_inspection.moc"
