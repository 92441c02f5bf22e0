// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// A loopback TCP proxy that injects network faults between a client and a
// server, for tests. It runs in the event loop of the thread that owns it (no
// threads, no sleeps: delays use timers), so a test must spin the event loop
// (QTRY_*, QSignalSpy::wait, QTest::qWait, or RawRedisClient's EventLoop
// wait mode) for bytes to move.
//
// Every accepted client connection gets its own connection to the target.
// Bytes are forwarded in chunks as they are read. The fault rules below are
// per direction, can be changed at any time, and apply to every connection,
// current and future. A rule decides a chunk's fate when the chunk is read
// from its source (so data already held back by a delay keeps its due time),
// except that enabling a blackhole also drops data still held back.
//
// Closing: when one side closes (or resets), the proxy closes the other side
// gracefully once the data held back for it was delivered. A close passes
// through a blackhole (only data is swallowed). If the target cannot be
// reached, the client connection is reset.

#ifndef QREDLOCKTEST_FAULTPROXY_H
#define QREDLOCKTEST_FAULTPROXY_H

#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QString>

QT_BEGIN_NAMESPACE
class QTcpServer;
QT_END_NAMESPACE

namespace QRedlockTest {

class FaultProxy : public QObject
{
    Q_OBJECT

public:
    enum class Direction { ClientToServer, ServerToClient, Both };
    Q_ENUM(Direction)

    // For setCutAfterBytes(): does the rule cut every connection, or only the
    // first one that reaches the limit (then the rule clears itself)?
    enum class CutMode { EveryConnection, Once };
    Q_ENUM(CutMode)

    explicit FaultProxy(QObject *parent = nullptr);
    ~FaultProxy() override; // cuts every connection

    // Listens on 127.0.0.1 at a free port and forwards to target.
    bool start(quint16 targetPort, const QString &targetHost = QStringLiteral("127.0.0.1"));
    // Stops listening and cuts every connection.
    void stop();
    quint16 port() const;
    QString url() const; // redis://127.0.0.1:<port>
    QString errorString() const;

    // Removes every rule of the direction(s): no delay, jitter, blackhole or
    // cut. Data already held back is still delivered at its due time.
    void setPass(Direction direction);
    // Each chunk is forwarded ms after it was read (plus jitter), in order.
    void setDelay(Direction direction, int ms);
    // Adds a uniform random 0..maxMs to each chunk's delay; the order of the
    // bytes is kept (a chunk never overtakes an earlier one).
    void setJitter(Direction direction, int maxMs);
    // Accept and read, never forward: bytes are swallowed, including those
    // held back by a delay at the moment it is enabled. Turning it off does
    // not bring them back.
    void setBlackhole(Direction direction, bool on);
    // Resets (RST) a connection once n more bytes passed in that direction:
    // exactly n bytes are delivered, then both sides are reset, so n can end
    // a connection in the middle of a reply. Counting starts when this is
    // called for current connections and at accept for new ones. n < 0
    // removes the rule; n == 0 cuts at the first byte. See CutMode.
    void setCutAfterBytes(Direction direction, qint64 n, CutMode mode = CutMode::EveryConnection);
    // Resets (RST) every current connection, on both sides. New connections
    // are still accepted.
    void cutAll();
    // true: stop listening, so new connects are refused (ECONNREFUSED);
    // current connections go on. false: listen again on the same port.
    bool setRefuseNew(bool refuse);

    int connectionCount() const;   // open now
    int totalConnections() const;  // accepted since start()
    qint64 bytesForwarded(Direction direction) const; // delivered so far

Q_SIGNALS:
    void connectionOpened();
    void connectionClosed(); // any end, including cuts
    void connectionCut();    // reset by cutAll() or setCutAfterBytes()

private:
    class Link;
    friend class Link;

    struct Rules
    {
        int delayMs = 0;
        int jitterMs = 0;
        bool blackhole = false;
        qint64 cutAfter = -1;
        CutMode cutMode = CutMode::EveryConnection;
    };

    void acceptConnections();
    void disarmCut(int index);
    bool listen(quint16 port);
    qint64 now() const;

    QTcpServer *m_server = nullptr;
    QString m_targetHost;
    quint16 m_targetPort = 0;
    quint16 m_port = 0;
    bool m_refuseNew = false;
    QString m_errorString;
    Rules m_rules[2]; // indexed by Direction ClientToServer / ServerToClient
    qint64 m_forwarded[2] = {0, 0};
    int m_total = 0;
    QList<Link *> m_links;
    QElapsedTimer m_clock;
};

} // namespace QRedlockTest

#endif // QREDLOCKTEST_FAULTPROXY_H
