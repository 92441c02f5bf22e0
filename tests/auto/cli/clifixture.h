// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// What the end-to-end tests of the qredlock tool share: a cluster of real redis-server
// processes, the tool binary (QREDLOCK_TOOL_PATH), a temporary folder for the child
// commands' records, and helpers that start the tool and wait for what it did.
#pragma once

#include "rawredisclient.h"
#include "redisserver.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QJsonObject>
#include <QObject>
#include <QProcess>
#include <QProcessEnvironment>
#include <QStringList>
#include <QTemporaryDir>
#include <QVariant>

#include <initializer_list>
#include <memory>
#include <vector>

namespace QRedlockCliTest {

// A child command's "keep running": until a file named "stop" appears, at most ~30 s.
#define WaitLoop "i=0; while [ $i -lt 1500 ] && [ ! -e stop ]; do sleep 0.02; i=$((i+1)); done"

QString toolPath();

// Argument lists from literals (QT_NO_CAST_FROM_ASCII forbids the implicit conversion).
QStringList sl(std::initializer_list<const char *> items);
QStringList &operator<<(QStringList &list, const char *item);
QStringList operator<<(QStringList &&list, const char *item);

struct Outcome
{
    int exitCode = -1;
    QProcess::ExitStatus status = QProcess::CrashExit;
    QByteArray out;
    QByteArray err;
    qint64 elapsedMs = 0;
};

qint64 nowMs();
bool processExists(qint64 pid);
// The lines of a file (empty when it does not exist yet).
QStringList linesOf(const QString &path);
// Waits (polling every few ms, so that timing assertions stay tight) until some line of the
// file starts with prefix; returns that line.
QString waitForLine(const QString &path, const char *prefixText, int timeoutMs = 10000);
// The number after the first word of a line like "term 1700000000123".
qint64 numberIn(const QString &line);
// The parent of a process (field 4 of /proc/<pid>/stat), -1 when it is gone.
qint64 parentOf(qint64 pid);
// Waits until a process has gone (reaped: not even a zombie is left).
bool waitGone(qint64 pid, int timeoutMs);
// A loopback port with nothing listening on it (taken and given back at once).
quint16 freePort();

// The base of each test class: call setUpCase() from initTestCase(), setUp() from init()
// and tearDown() from cleanup().
class CliFixture : public QObject
{
protected:
    void setUpCase();
    void setUp();
    void tearDown();

    QStringList serverArgs() const;
    QString file(const char *name) const { return m_dir->filePath(QString::fromUtf8(name)); }
    // A started tool process (killed in cleanup() if still running).
    QProcess *startTool(const QStringList &args, const QProcessEnvironment &env = {});
    Outcome finish(QProcess *p, int timeoutMs = 30000);
    Outcome runTool(const QStringList &args, const QByteArray &input = {}, const QProcessEnvironment &env = {});
    // startTool() in a process group of its own (so that the test may signal that group).
    QProcess *startToolInOwnGroup(const QStringList &args);
    QProcess *launch(const QStringList &args, const QProcessEnvironment &env, bool ownGroup);
    // finish() that keeps this thread's event loop running (for servers of the test itself).
    Outcome finishServing(QProcess *p, int timeoutMs = 30000);
    // A shell script in the temporary folder (WaitLoop may be used in it as WAITLOOP).
    void writeScript(const char *name, const char *text);
    QVariant get(int server, const QByteArray &key) { return m_cluster.at(server).command({ "GET", key }); }
    bool setOn(int server, const QByteArray &key, const QByteArray &value);
    QJsonObject statusJson(const QString &resource, int *exitCode = nullptr);

    QRedlockTest::RedisCluster m_cluster;
    QRedlockTest::RedisServer m_passwordServer; // requirepass s3cret
    std::unique_ptr<QRedlockTest::RedisServer> m_tlsServer; // started when first needed
    std::unique_ptr<QTemporaryDir> m_dir;
    std::vector<std::unique_ptr<QProcess>> m_processes;
    std::vector<std::unique_ptr<QElapsedTimer>> m_clocks;
};

} // namespace QRedlockCliTest
