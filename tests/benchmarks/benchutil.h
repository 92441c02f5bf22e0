// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Helpers shared by the lockbench modes: statistics, process figures, command-line
// options, the servers a measurement runs against, and a bare Qt fan-out client used
// as a reference (no QRedlock code in it).
#pragma once

#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtCore/QStringList>

#include <functional>
#include <memory>

QT_BEGIN_NAMESPACE
class QTcpSocket;
QT_END_NAMESPACE

namespace QRedlockTest {
class RedisCluster;
}

namespace LockBench {

// --key value options after the mode name; a bare --flag has the value "1".
class Options
{
public:
    Options(const QStringList &args, int first);
    QString value(const QString &key, const QString &fallback = {}) const;
    int intValue(const QString &key, int fallback) const;
    double doubleValue(const QString &key, double fallback) const;
    bool has(const QString &key) const { return m_values.contains(key); }
    QStringList list(const QString &key) const; // comma-separated

private:
    QHash<QString, QString> m_values;
};

// Percentiles of durations given in nanoseconds, reported in microseconds.
QJsonObject latencySummary(QList<qint64> samplesNs);

qint64 rssKiB();          // VmRSS of this process
double cpuSeconds();      // user + system time of this process
QString dispatcherName(); // class name of the main thread's event dispatcher

// Prints one JSON object on one line of stdout (the suite reads the last line).
void emitResult(QJsonObject result);
[[noreturn]] void fail(const QString &message);

// The servers of one measurement: the first --servers of the given --urls (all of them
// by default), or --servers (else defaultCount) servers started here and stopped when
// this object goes.
class ServerSet
{
public:
    ServerSet();
    ~ServerSet();
    QStringList setUp(const Options &options, int defaultCount);
    static quint16 portOf(const QString &url);

private:
    std::unique_ptr<QRedlockTest::RedisCluster> m_own;
};

// Runs the event loop until done() is true or timeoutMs passed; returns done().
// Polls every few milliseconds: for set-up only, never inside a measurement.
bool spinUntil(const std::function<bool()> &done, int timeoutMs);

// Runs the event loop until quit() or timeoutMs; returns false on timeout. Measurements
// wait with this one: nothing wakes the loop but the work itself.
class Waiter
{
public:
    bool wait(int timeoutMs);
    void quit();

private:
    QEventLoop *m_loop = nullptr;
    bool m_quit = false;
};

// A minimal Redis fan-out over plain QTcpSockets: writes one command to every server
// (buffered, no flush: Qt sends a turn's writes together), counts one-line replies.
// This is the floor a Qt client pays for the event loop alone.
class BareFanout : public QObject
{
public:
    explicit BareFanout(const QStringList &urls);
    ~BareFanout() override;
    bool connectAll(int timeoutMs);
    // Measures `samples` rounds of `SET key v NX PX 10000` (time to `quorum` replies),
    // each followed by a DEL round that is not measured.
    QList<qint64> measure(int samples, int quorum, const QByteArray &key);

private:
    void onReadyRead(int index);
    void startRound();

    QList<QTcpSocket *> m_sockets;
    QList<quint16> m_ports;
    QByteArray m_set, m_del;
    QElapsedTimer m_clock;
    qint64 m_t0 = 0;
    int m_answered = 0;
    int m_quorum = 1;
    bool m_inSet = false;
    int m_remaining = 0;
    QList<qint64> m_samples;
    Waiter m_waiter;
};

// One `SET key v NX PX 10000` round trip to one server over a blocking socket, for a
// reference taken between a measurement's own samples (so both see the same machine).
class BlockingRoundTrip
{
public:
    explicit BlockingRoundTrip(const QString &url);
    ~BlockingRoundTrip();
    qint64 measureNs(); // one round trip

private:
    int m_fd = -1;
    QByteArray m_command;
};

// The same rounds over blocking POSIX sockets and poll(), no event loop at all: write to
// every server, wait for `quorum` replies. The floor any client pays on this machine.
// With pauseMs, every round comes after that long a sleep (the machine idle in between, as
// it is before a handoff after a long hold).
QList<qint64> blockingFanout(const QStringList &urls, int samples, int quorum, const QByteArray &key, int pauseMs = 0);

} // namespace LockBench
