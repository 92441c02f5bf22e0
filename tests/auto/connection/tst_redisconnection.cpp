// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// RedisConnection against real redis-server processes (tests/common), a fault-injecting proxy
// and fake peers: pipelining order, deadlines on a paused server, reconnects, AUTH/ACL, TLS,
// Unix sockets, protocol errors, cuts in the middle of a reply and the NOSCRIPT fallback.

#include "redisconnection_p.h"

#include "faultproxy.h"
#include "rawredisclient.h"
#include "redisserver.h"
#include "testcertificates.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <algorithm>
#include <memory>

using namespace QRedlock;
using namespace QRedlockTest;
using Args = QList<QByteArray>;

namespace QRedlock {
// Readable failures in QCOMPARE messages.
char *toString(const RedisFailure &failure)
{
    static const char *const names[] = { "None",     "Timeout", "Connect", "Disconnected",
                                         "Protocol", "Auth",    "Tls",     "Cancelled" };
    const auto index = size_t(failure);
    return qstrdup(index < sizeof names / sizeof *names ? names[index] : "?");
}
} // namespace QRedlock

namespace {

// Timing slack on top of a deadline: timers, a loaded 2-core machine, sanitizers.
constexpr int SlackMs = 250;

// Receives the callback of one request. Copies share the state, so the callback may
// outlive the copy the test holds; the clock starts when the slot is made.
class ReplySlot
{
public:
    ReplySlot() { m_state->clock.start(); }

    RedisConnection::Callback callback() const
    {
        return [state = m_state](const RedisReply &reply) {
            if (state->calls++ == 0) {
                state->reply = reply;
                state->elapsedMs = state->clock.elapsed();
            }
        };
    }
    bool done() const { return m_state->calls > 0; }
    int calls() const { return m_state->calls; }
    const RedisReply &reply() const { return m_state->reply; }
    qint64 elapsedMs() const { return m_state->elapsedMs; }

private:
    struct State
    {
        RedisReply reply;
        int calls = 0;
        QElapsedTimer clock;
        qint64 elapsedMs = -1;
    };
    std::shared_ptr<State> m_state = std::make_shared<State>();
};

ReplySlot sendTo(RedisConnection &connection, const Args &argv, int timeoutMs = -1)
{
    ReplySlot slot;
    connection.send(argv, slot.callback(), timeoutMs);
    return slot;
}

// Sends one command and runs the event loop until its callback ran (false: it never did).
bool roundTrip(RedisConnection &connection, const Args &argv, RedisReply *out, int waitMs = 5000)
{
    const ReplySlot slot = sendTo(connection, argv);
    if (!QTest::qWaitFor([&] { return slot.done(); }, waitMs))
        return false;
    *out = slot.reply();
    return true;
}

// PINGs until a PONG comes back (the connection recovers on its own) or waitMs passed.
bool pongWithin(RedisConnection &connection, int waitMs)
{
    QElapsedTimer clock;
    clock.start();
    while (clock.elapsed() < waitMs) {
        RedisReply reply;
        if (roundTrip(connection, { "PING" }, &reply, waitMs) && reply.ok() && reply.value.isStatus("PONG"))
            return true;
        QTest::qWait(20);
    }
    return false;
}

RedisConnection::Options quickOptions()
{
    RedisConnection::Options options;
    options.connectTimeoutMs = 3000;
    options.requestTimeoutMs = 3000;
    options.reconnectMinMs = 20;
    options.reconnectMaxMs = 200;
    return options;
}

RedisEndpoint endpointOf(const QString &url)
{
    const RedisEndpoint endpoint = RedisEndpoint::fromString(url);
    if (!endpoint.isValid())
        qWarning("bad test URL %s: %s", qPrintable(url), qPrintable(endpoint.errorString()));
    return endpoint;
}

// A PING-checked connection to a fresh server: the set-up of most tests.
struct ServerAndConnection
{
    bool start(const RedisConnection::Options &options = quickOptions())
    {
        if (!server.start()) {
            qWarning("%s", qPrintable(server.errorString()));
            return false;
        }
        connection = std::make_unique<RedisConnection>(endpointOf(server.url()));
        connection->setOptions(options);
        if (!pongWithin(*connection, 5000)) {
            qWarning("no PONG from the new connection: %s", qPrintable(connection->lastError()));
            return false;
        }
        return true;
    }

    RedisServer server;
    std::unique_ptr<RedisConnection> connection;
};

QString describe(const RedisReply &reply)
{
    QString value;
    switch (reply.value.type) {
    case RedisValue::Type::Nil: value = QStringLiteral("nil"); break;
    case RedisValue::Type::Integer: value = QString::number(reply.value.integer); break;
    case RedisValue::Type::Array:
        value = QStringLiteral("array of %1").arg(reply.value.elements.size());
        break;
    default: value = QString::fromUtf8(reply.value.string.left(200)); break;
    }
    return QStringLiteral("failure %1, error '%2', value %3")
            .arg(int(reply.failure))
            .arg(reply.errorString, value);
}

// A peer that answers any bytes with an HTTP error, as a web server on the wrong port would.
class HttpPeer : public QObject
{
public:
    bool start()
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection()) {
                connect(socket, &QTcpSocket::readyRead, socket, [socket] {
                    socket->readAll();
                    socket->write("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                                  "Content-Length: 11\r\n\r\nBad Request");
                });
            }
        });
        return m_server.listen(QHostAddress::LocalHost);
    }
    quint16 port() const { return m_server.serverPort(); }

private:
    QTcpServer m_server;
};

// A loopback port with nobody listening (found free, then released).
quint16 closedPort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost))
        return 0;
    const quint16 port = probe.serverPort();
    probe.close();
    return port;
}

} // namespace

class tst_RedisConnection : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();

    void pipelining_keepsOrderWith100kInFlight();
    void requestsBeforeConnect_areSentAfterHandshake();
    void pausedServer_timesOutWithinDeadline();
    void swallowedReplies_reconnectInStep();
    void unboundedReply_isRefusedWithBoundedMemory_data();
    void unboundedReply_isRefusedWithBoundedMemory();
    void killedServer_reconnectsAfterRestart();
    void waitingToReconnect_failsFast();
    void waitingToReconnect_requestReconnectsEarly();
    void onDemandReconnects_areRateLimited();
    void authFailure_isNotRetriedPerRequest();
    void connectFailure_data();
    void connectFailure();
    void connectTimeout_whenTlsHandshakeHangs();
    void auth_data();
    void auth();
    void tls_data();
    void tls();
    void unixSocket();
    void database_data();
    void database();
    void httpPeer_givesProtocolError();
    void cutMidReply_failsPendingAndRecovers();
    void serverSideKill_reconnectsAndReloadsScripts();
    void scriptFlush_survivedByNoscriptFallback();
    void scriptErrors_areRepliesNotFailures();
    void injectedGarbage_givesProtocolErrorAndRecovers_data();
    void injectedGarbage_givesProtocolErrorAndRecovers();
    void close_cancelsPendingAndLaterRequests();
};

void tst_RedisConnection::initTestCase()
{
    QString error;
    QVERIFY2(TestCertificates::ensure(&error), qPrintable(u"TLS test certificates: " + error));
}

void tst_RedisConnection::pipelining_keepsOrderWith100kInFlight()
{
    RedisConnection::Options options = quickOptions();
    options.requestTimeoutMs = 60000;
    ServerAndConnection setup;
    QVERIFY(setup.start(options));
    RedisConnection &connection = *setup.connection;

    // Four kinds of commands in turn; each reply must be the one of its own request:
    // INCR proves the server ran them in order, GET reads the SET just before it, ECHO
    // carries the request's index.
    constexpr int Count = 100000;
    struct Progress
    {
        int answered = 0;
        int wrong = 0;
        QString firstWrong;
    };
    const auto progress = std::make_shared<Progress>();
    const auto expected = [](int i, const RedisValue &v) {
        switch (i % 4) {
        case 0: return v.type == RedisValue::Type::Integer && v.integer == i / 4 + 1;
        case 1: return v.isStatus("OK");
        case 2: return v.type == RedisValue::Type::String && v.string == "value-" + QByteArray::number(i - 1);
        default: return v.type == RedisValue::Type::String && v.string == "echo-" + QByteArray::number(i);
        }
    };
    QElapsedTimer clock;
    clock.start();
    for (int i = 0; i < Count; ++i) {
        Args argv;
        switch (i % 4) {
        case 0: argv = { "INCR", "sequence" }; break;
        case 1: argv = { "SET", "key-" + QByteArray::number(i), "value-" + QByteArray::number(i) }; break;
        case 2: argv = { "GET", "key-" + QByteArray::number(i - 1) }; break;
        default: argv = { "ECHO", "echo-" + QByteArray::number(i) }; break;
        }
        connection.send(argv, [progress, expected, i](const RedisReply &reply) {
            const bool inOrder = progress->answered == i;
            ++progress->answered;
            if (!inOrder || !reply.ok() || !expected(i, reply.value)) {
                if (progress->wrong++ == 0)
                    progress->firstWrong = QStringLiteral("request %1 (answered so far %2): %3")
                                                   .arg(i).arg(progress->answered - 1).arg(describe(reply));
            }
        });
    }
    const qint64 queuedMs = clock.elapsed();
    QCOMPARE(connection.pendingCount(), Count);
    QCOMPARE(progress->answered, 0); // never completed synchronously
    QTRY_COMPARE_WITH_TIMEOUT(progress->answered, Count, 90000);
    qInfo("%d pipelined commands: queued in %lld ms, all answered after %lld ms", Count, queuedMs,
          clock.elapsed());
    QVERIFY2(progress->wrong == 0,
             qPrintable(QStringLiteral("%1 wrong replies; first: %2").arg(progress->wrong).arg(progress->firstWrong)));
    QCOMPARE(connection.pendingCount(), 0);
    QCOMPARE(setup.server.command({ "GET", "sequence" }), QVariant(QByteArray::number(Count / 4)));
}

void tst_RedisConnection::requestsBeforeConnect_areSentAfterHandshake()
{
    RedisServer server;
    RedisServer::Options serverOptions;
    serverOptions.password = QStringLiteral("early-pw");
    QVERIFY2(server.start(serverOptions), qPrintable(server.errorString()));
    RedisConnection connection(endpointOf(server.url() + u"/3"));
    connection.setOptions(quickOptions());
    QSignalSpy states(&connection, &RedisConnection::stateChanged);
    QSignalSpy ready(&connection, &RedisConnection::ready);

    // Sent before anything is connected: they wait for AUTH and SELECT, then go in order.
    QList<ReplySlot> replies;
    for (int i = 0; i < 1000; ++i)
        replies << sendTo(connection, { "RPUSH", "early", QByteArray::number(i) });
    QCOMPARE(connection.state(), RedisConnection::State::Connecting);
    QTRY_VERIFY_WITH_TIMEOUT(replies.last().done(), 5000);
    for (int i = 0; i < replies.size(); ++i) {
        QVERIFY2(replies[i].reply().ok(), qPrintable(describe(replies[i].reply())));
        QCOMPARE(replies[i].reply().value.integer, qint64(i + 1));
    }
    QCOMPARE(ready.count(), 1);
    QCOMPARE(states.count(), 3);
    QCOMPARE(states.at(0).at(0).value<RedisConnection::State>(), RedisConnection::State::Connecting);
    QCOMPARE(states.at(1).at(0).value<RedisConnection::State>(), RedisConnection::State::Handshaking);
    QCOMPARE(states.at(2).at(0).value<RedisConnection::State>(), RedisConnection::State::Ready);
    QCOMPARE(connection.lastError(), QString());

    RedisReply reply;
    QVERIFY(roundTrip(connection, { "LRANGE", "early", "0", "-1" }, &reply));
    QCOMPARE(reply.value.elements.size(), 1000);
    QCOMPARE(reply.value.elements.at(999).string, QByteArray("999"));
    QVERIFY(roundTrip(connection, { "CLIENT", "INFO" }, &reply));
    QVERIFY2(reply.value.string.contains(" db=3 "), reply.value.string.constData());
}

void tst_RedisConnection::pausedServer_timesOutWithinDeadline()
{
    ServerAndConnection setup;
    QVERIFY(setup.start());
    RedisServer &server = setup.server;
    RedisConnection &connection = *setup.connection;
    QSignalSpy lost(&connection, &RedisConnection::connectionLost);

    // The oldest request times out at its deadline; the connection is then presumed out of
    // step and dropped, so the later request fails at the same moment instead of waiting.
    server.pause();
    const ReplySlot shortOne = sendTo(connection, { "ECHO", "short" }, 200);
    const ReplySlot longOne = sendTo(connection, { "ECHO", "long" }, 600);
    QTRY_VERIFY_WITH_TIMEOUT(shortOne.done(), 200 + SlackMs);
    QCOMPARE(shortOne.reply().failure, RedisFailure::Timeout);
    QVERIFY2(shortOne.elapsedMs() >= 199, qPrintable(QString::number(shortOne.elapsedMs())));
    QVERIFY2(shortOne.reply().errorString.contains(u"deadline"), qPrintable(shortOne.reply().errorString));
    QTRY_VERIFY_WITH_TIMEOUT(longOne.done(), 100);
    QCOMPARE(longOne.reply().failure, RedisFailure::Timeout);
    QVERIFY2(longOne.elapsedMs() < 600, qPrintable(QString::number(longOne.elapsedMs())));
    QCOMPARE(lost.count(), 1);

    // After the resume, a new connection answers every request with its own reply.
    server.resume();
    QVERIFY2(pongWithin(connection, 5000), qPrintable(connection.lastError()));
    RedisReply reply;
    QVERIFY(roundTrip(connection, { "ECHO", "after" }, &reply));
    QVERIFY2(reply.ok(), qPrintable(describe(reply)));
    QCOMPARE(reply.value.string, QByteArray("after"));
    QCOMPARE(shortOne.calls(), 1);
    QCOMPARE(longOne.calls(), 1);
}

void tst_RedisConnection::swallowedReplies_reconnectInStep()
{
    // A proxy swallows the server's replies for a while as traffic goes on (regression:
    // afterwards every reply was matched to an older request, and requests kept timing out
    // for 12 s and more after the path was sane again).
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    FaultProxy proxy;
    QVERIFY2(proxy.start(server.port()), qPrintable(proxy.errorString()));
    RedisConnection connection(endpointOf(proxy.url()));
    RedisConnection::Options options = quickOptions();
    options.requestTimeoutMs = 150;
    connection.setOptions(options);
    QVERIFY(pongWithin(connection, 5000));
    QSignalSpy lost(&connection, &RedisConnection::connectionLost);

    proxy.setBlackhole(FaultProxy::Direction::ServerToClient, true);
    QList<ReplySlot> during;
    for (int i = 0; i < 20; ++i) {
        during.append(sendTo(connection, { "ECHO", QByteArray::number(i) }));
        QTest::qWait(20);
    }
    proxy.setBlackhole(FaultProxy::Direction::ServerToClient, false);
    QElapsedTimer sane;
    sane.start();

    // Within about one reconnect, each request gets its own reply again.
    int inStep = 0;
    int wrong = 0;
    for (int i = 0; i < 200 && inStep < 5 && sane.elapsed() < 3000; ++i) {
        const QByteArray text = "after-" + QByteArray::number(i);
        RedisReply reply;
        if (!roundTrip(connection, { "ECHO", text }, &reply, 1000))
            continue;
        if (reply.ok() && reply.value.string == text)
            ++inStep;
        else if (reply.ok())
            ++wrong;
        else
            inStep = 0;
    }
    QVERIFY2(inStep >= 5, qPrintable(QStringLiteral("%1 in step after %2 ms").arg(inStep).arg(sane.elapsed())));
    QCOMPARE(wrong, 0);
    QVERIFY2(sane.elapsed() < 1500, qPrintable(QString::number(sane.elapsed())));
    QVERIFY(lost.count() >= 1);
    for (int i = 0; i < during.size(); ++i) { // each told once, never with another request's reply
        const ReplySlot &slot = during.at(i);
        QVERIFY(slot.done());
        QCOMPARE(slot.calls(), 1);
        if (slot.reply().ok())
            QCOMPARE(slot.reply().value.string, QByteArray::number(i));
    }
}

void tst_RedisConnection::unboundedReply_isRefusedWithBoundedMemory_data()
{
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<QByteArray>("filler");
    QTest::newRow("bulk of 2 GiB") << QByteArray("$2147483647\r\n") << QByteArray(64 * 1024, 'x');
    QTest::newRow("array of 2^31 elements") << QByteArray("*2147483647\r\n") << QByteArray(":1\r\n").repeated(16 * 1024);
    QTest::newRow("array of 100k integers") << QByteArray("*100000\r\n") << QByteArray(":1\r\n").repeated(16 * 1024);
    QTest::newRow("nested arrays") << QByteArray("*1000000\r\n") << QByteArray("*1\r\n:1\r\n").repeated(8 * 1024);
}

void tst_RedisConnection::unboundedReply_isRefusedWithBoundedMemory()
{
    QFETCH(QByteArray, header);
    QFETCH(QByteArray, filler);
    // A peer that answers the first command with the header, then streams filler for as long
    // as it is read, up to 256 MiB (regression: the library grew to 1.14 GB).
    QTcpServer peer;
    QVERIFY(peer.listen(QHostAddress::LocalHost));
    qint64 streamed = 0;
    bool closed = false;
    constexpr qint64 Limit = 256LL * 1024 * 1024;
    connect(&peer, &QTcpServer::newConnection, this, [&] {
        QTcpSocket *socket = peer.nextPendingConnection();
        const auto pump = [&, socket] {
            while (socket->bytesToWrite() < 1024 * 1024 && streamed < Limit && socket->state() == QAbstractSocket::ConnectedState) {
                socket->write(filler);
                streamed += filler.size();
            }
        };
        connect(socket, &QTcpSocket::readyRead, socket, [socket, header, pump] {
            socket->readAll();
            if (!socket->property("sent").toBool()) {
                socket->setProperty("sent", true);
                socket->write(header);
                pump();
            }
        });
        connect(socket, &QTcpSocket::bytesWritten, socket, pump);
        connect(socket, &QTcpSocket::disconnected, socket, [&closed] { closed = true; });
    });
    RedisConnection connection(endpointOf(QStringLiteral("redis://127.0.0.1:%1").arg(peer.serverPort())));
    connection.setOptions(quickOptions());
    const ReplySlot slot = sendTo(connection, { "PING" });
    QTRY_VERIFY_WITH_TIMEOUT(slot.done(), 10000);
    QCOMPARE(slot.reply().failure, RedisFailure::Protocol);
    QVERIFY2(slot.reply().errorString.contains(u"larger than 512 KiB"), qPrintable(slot.reply().errorString));
    QTRY_VERIFY_WITH_TIMEOUT(closed, 5000);
    // What was read before giving up: the cap, plus what the sockets' buffers held.
    QVERIFY2(streamed < 16 * 1024 * 1024, qPrintable(QString::number(streamed)));
}

void tst_RedisConnection::killedServer_reconnectsAfterRestart()
{
    ServerAndConnection setup;
    QVERIFY(setup.start());
    RedisServer &server = setup.server;
    RedisConnection &connection = *setup.connection;
    QSignalSpy lost(&connection, &RedisConnection::connectionLost);

    server.pause(); // the request stays pending until the kill
    const ReplySlot pending = sendTo(connection, { "SET", "k", "v" });
    QTest::qWait(20);
    server.kill();
    QTRY_VERIFY_WITH_TIMEOUT(pending.done(), 2000);
    QCOMPARE(pending.reply().failure, RedisFailure::Disconnected);
    QVERIFY(lost.count() >= 1);

    // While the server is down, the connection keeps trying (and requests fail, not hang).
    QTest::qWait(300);
    QVERIFY(!connection.isReady());
    QVERIFY2(server.restart(), qPrintable(server.errorString()));
    QVERIFY2(pongWithin(connection, 5000), qPrintable(connection.lastError()));
    RedisReply reply;
    QVERIFY(roundTrip(connection, { "SET", "k", "again" }, &reply));
    QVERIFY2(reply.ok() && reply.value.isStatus("OK"), qPrintable(describe(reply)));
    QCOMPARE(server.command({ "GET", "k" }), QVariant(QByteArray("again")));
}

void tst_RedisConnection::waitingToReconnect_failsFast()
{
    RedisConnection::Options options = quickOptions();
    options.reconnectMinMs = 10000; // waits 5-10 s before the first new attempt, and a request
    options.reconnectMaxMs = 10000; // may not start one sooner: the last began 10 s ago at most
    ServerAndConnection setup;
    QVERIFY(setup.start(options));
    RedisServer &server = setup.server;
    RedisConnection &connection = *setup.connection;

    server.kill();
    QTRY_COMPARE_WITH_TIMEOUT(connection.state(), RedisConnection::State::WaitingToReconnect, 2000);
    const ReplySlot slot = sendTo(connection, { "PING" }, 10000);
    QVERIFY(!slot.done()); // through the event loop, not from inside send()
    QTRY_VERIFY_WITH_TIMEOUT(slot.done(), 500);
    QVERIFY2(slot.elapsedMs() < 100, qPrintable(QString::number(slot.elapsedMs())));
    QCOMPARE(slot.reply().failure, RedisFailure::Disconnected); // the reason the connection was lost
    QVERIFY2(slot.reply().errorString.contains(u"not connected"), qPrintable(slot.reply().errorString));
}

// Counts the connect attempts a connection starts.
struct AttemptCounter
{
    explicit AttemptCounter(RedisConnection &connection)
    {
        QObject::connect(&connection, &RedisConnection::stateChanged, &context,
                         [this](RedisConnection::State state) {
                             if (state == RedisConnection::State::Connecting) {
                                 ++attempts;
                                 lastAttempt.start();
                             }
                         });
    }
    QObject context;
    int attempts = 0;
    QElapsedTimer lastAttempt;
};

// Sends a PING every intervalMs for forMs, then waits until every one was answered.
QList<ReplySlot> pingEvery(RedisConnection &connection, int intervalMs, int forMs, qint64 *elapsedMs)
{
    QElapsedTimer clock;
    clock.start();
    QList<ReplySlot> slots;
    while (clock.elapsed() < forMs) {
        slots << sendTo(connection, { "PING" }, 2000);
        QTest::qWait(intervalMs);
    }
    *elapsedMs = clock.elapsed();
    const auto allDone = [&] { return std::all_of(slots.cbegin(), slots.cend(), [](const ReplySlot &s) { return s.done(); }); };
    if (!QTest::qWaitFor(allDone, 3000))
        qWarning("%lld of %lld requests never completed",
                 qlonglong(std::count_if(slots.cbegin(), slots.cend(), [](const ReplySlot &s) { return !s.done(); })),
                 qlonglong(slots.size()));
    return slots;
}

void tst_RedisConnection::waitingToReconnect_requestReconnectsEarly()
{
    // After a long outage the backoff has grown; the first request after the server is back
    // must not wait for it (it would delay the first lock by up to the backoff cap). The
    // outage is a proxy that refuses connections: it listens again at once, so nothing but
    // the request can explain a reconnect before the next scheduled attempt.
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    FaultProxy proxy;
    QVERIFY2(proxy.start(server.port()), qPrintable(proxy.errorString()));
    RedisConnection connection(endpointOf(proxy.url()));
    RedisConnection::Options options = quickOptions();
    options.reconnectMinMs = 300;
    options.reconnectMaxMs = 60000;
    connection.setOptions(options);
    QVERIFY2(pongWithin(connection, 5000), qPrintable(connection.lastError()));
    AttemptCounter counter(connection);

    QVERIFY(proxy.setRefuseNew(true));
    proxy.cutAll();
    // Four refused attempts, 150-300, 300-600, 600-1200 and 1200-2400 ms apart; the fifth
    // is scheduled 2400-4800 ms after the fourth.
    QTRY_VERIFY_WITH_TIMEOUT(counter.attempts >= 4 && connection.state() == RedisConnection::State::WaitingToReconnect,
                             8000);
    QCOMPARE(counter.attempts, 4);
    const QElapsedTimer sinceFourth = counter.lastAttempt;
    QVERIFY(proxy.setRefuseNew(false));
    QTest::qWait(int(std::max<qint64>(0, 350 - sinceFourth.elapsed()))); // an on-demand attempt is allowed again
    QCOMPARE(connection.state(), RedisConnection::State::WaitingToReconnect);

    const ReplySlot slot = sendTo(connection, { "PING" }, 1000);
    // The request itself started the attempt, before returning: no timer was involved.
    QCOMPARE(counter.attempts, 5);
    QCOMPARE(connection.state(), RedisConnection::State::Connecting);
    QTRY_VERIFY_WITH_TIMEOUT(slot.done(), 1500);
    QVERIFY2(slot.reply().ok() && slot.reply().value.isStatus("PONG"), qPrintable(describe(slot.reply())));
    QCOMPARE(counter.attempts, 5);
}

void tst_RedisConnection::onDemandReconnects_areRateLimited()
{
    // A dead server and a busy client: requests every 5 ms start at most one attempt per
    // reconnectMinMs, and each fails at once (connection refused), never waits.
    RedisConnection::Options options = quickOptions();
    options.reconnectMinMs = 200;
    options.reconnectMaxMs = 60000;
    ServerAndConnection setup;
    QVERIFY(setup.start(options));
    RedisConnection &connection = *setup.connection;
    setup.server.kill();
    QTRY_COMPARE_WITH_TIMEOUT(connection.state(), RedisConnection::State::WaitingToReconnect, 2000);

    AttemptCounter counter(connection);
    qint64 elapsed = 0;
    const QList<ReplySlot> slots = pingEvery(connection, 5, 1000, &elapsed);
    QVERIFY2(slots.size() > 50, qPrintable(QString::number(slots.size())));
    // One attempt per 200 ms at most (6 in 1 s, counting one at the start), but there were some.
    QVERIFY2(counter.attempts >= 3 && counter.attempts <= int(elapsed / 200) + 1,
             qPrintable(QStringLiteral("%1 attempts in %2 ms").arg(counter.attempts).arg(elapsed)));
    for (const ReplySlot &s : slots) {
        QVERIFY2(s.done(), "a request never completed");
        QVERIFY2(s.reply().failure == RedisFailure::Connect || s.reply().failure == RedisFailure::Disconnected,
                 qPrintable(describe(s.reply())));
        QVERIFY2(s.elapsedMs() < 200, qPrintable(QString::number(s.elapsedMs())));
    }
}

void tst_RedisConnection::authFailure_isNotRetriedPerRequest()
{
    // A wrong password is a configuration error, not an outage: requests fail at once with
    // it and do not start a new attempt each; the capped backoff alone retries.
    RedisServer server;
    RedisServer::Options serverOptions;
    serverOptions.password = QStringLiteral("pw-right");
    QVERIFY2(server.start(serverOptions), qPrintable(server.errorString()));
    RedisConnection connection(endpointOf(u"redis://:pw-wrong@127.0.0.1:" + QString::number(server.port())));
    RedisConnection::Options options = quickOptions();
    options.reconnectMinMs = 100;
    options.reconnectMaxMs = 60000;
    connection.setOptions(options);
    RedisReply reply;
    QVERIFY(roundTrip(connection, { "PING" }, &reply));
    QCOMPARE(reply.failure, RedisFailure::Auth);

    AttemptCounter counter(connection);
    qint64 elapsed = 0;
    const QList<ReplySlot> slots = pingEvery(connection, 10, 1200, &elapsed);
    // The backoff (50-100, 100-200, 200-400, 400-800 ms) allows 4 attempts in 1.2 s;
    // one per request and 100 ms would be 12.
    QVERIFY2(counter.attempts <= 5, qPrintable(QString::number(counter.attempts)));
    for (const ReplySlot &s : slots) {
        QVERIFY2(s.done(), "a request never completed");
        QVERIFY2(s.reply().failure == RedisFailure::Auth, qPrintable(u"expected an AUTH failure, got " + describe(s.reply())));
    }
}

void tst_RedisConnection::connectFailure_data()
{
    QTest::addColumn<QString>("url");
    QTest::newRow("tcp, nobody listening") << QStringLiteral("redis://127.0.0.1:%1").arg(closedPort());
    QTest::newRow("unix, no socket file") << QStringLiteral("unix:///nonexistent/qredlock-test/redis.sock");
}

void tst_RedisConnection::connectFailure()
{
    QFETCH(QString, url);
    RedisConnection connection(endpointOf(url));
    connection.setOptions(quickOptions());
    const ReplySlot first = sendTo(connection, { "PING" }, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(first.done(), 2000);
    QCOMPARE(first.reply().failure, RedisFailure::Connect);
    QVERIFY(!connection.lastError().isEmpty());
    // Later requests fail as fast while it waits to retry, or fail again on the retry.
    for (int i = 0; i < 5; ++i) {
        const ReplySlot again = sendTo(connection, { "PING" }, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(again.done(), 2000);
        QCOMPARE(again.reply().failure, RedisFailure::Connect);
    }
}

void tst_RedisConnection::connectTimeout_whenTlsHandshakeHangs()
{
    RedisServer server;
    RedisServer::Options serverOptions;
    serverOptions.tls = true;
    QVERIFY2(server.start(serverOptions), qPrintable(server.errorString()));
    server.pause(); // the kernel still accepts the TCP connection; the TLS handshake never ends

    RedisConnection connection(endpointOf(server.url() + u"?ca=" + server.caFile()));
    RedisConnection::Options options = quickOptions();
    options.connectTimeoutMs = 300;
    options.requestTimeoutMs = 10000;
    connection.setOptions(options);
    const ReplySlot slot = sendTo(connection, { "PING" });
    QTRY_VERIFY_WITH_TIMEOUT(slot.done(), 300 + SlackMs);
    QCOMPARE(slot.reply().failure, RedisFailure::Connect);
    QVERIFY2(slot.reply().errorString.contains(u"timeout"), qPrintable(slot.reply().errorString));
    // The connect timer may be a coarse one (5 % early at most).
    QVERIFY2(slot.elapsedMs() >= 285, qPrintable(QString::number(slot.elapsedMs())));
    server.resume();
    QVERIFY2(pongWithin(connection, 5000), qPrintable(connection.lastError()));
}

void tst_RedisConnection::auth_data()
{
    QTest::addColumn<QString>("serverPassword");
    QTest::addColumn<QString>("aclUser");
    QTest::addColumn<QString>("aclPassword");
    QTest::addColumn<QString>("userInfo"); // "user:password@" part of the client's URL
    QTest::addColumn<RedisFailure>("failure");
    QTest::addColumn<QString>("mention");   // in the error (failures) or ACL WHOAMI's reply (success)

    const QString none;
    QTest::newRow("password, right") << QStringLiteral("pw-right") << none << none << QStringLiteral(":pw-right@")
                                     << RedisFailure::None << QStringLiteral("default");
    QTest::newRow("password, wrong") << QStringLiteral("pw-right") << none << none << QStringLiteral(":pw-wrong@")
                                     << RedisFailure::Auth << QStringLiteral("WRONGPASS");
    QTest::newRow("password, missing") << QStringLiteral("pw-right") << none << none << none << RedisFailure::Auth
                                       << QStringLiteral("NOAUTH");
    QTest::newRow("password given, none needed")
            << none << none << none << QStringLiteral(":pw-extra@") << RedisFailure::Auth << QStringLiteral("AUTH");
    QTest::newRow("acl user, right") << none << QStringLiteral("alice") << QStringLiteral("alice-pw")
                                     << QStringLiteral("alice:alice-pw@") << RedisFailure::None
                                     << QStringLiteral("alice");
    QTest::newRow("acl user, encoded password")
            << none << QStringLiteral("alice") << QStringLiteral("p@ss:w/rd") << QStringLiteral("alice:p%40ss%3Aw%2Frd@")
            << RedisFailure::None << QStringLiteral("alice");
    QTest::newRow("acl user, wrong password") << none << QStringLiteral("alice") << QStringLiteral("alice-pw")
                                              << QStringLiteral("alice:bob-pw@") << RedisFailure::Auth
                                              << QStringLiteral("WRONGPASS");
    QTest::newRow("acl user, unknown") << QStringLiteral("pw-right") << QStringLiteral("alice")
                                       << QStringLiteral("alice-pw") << QStringLiteral("mallory:alice-pw@")
                                       << RedisFailure::Auth << QStringLiteral("WRONGPASS");
    QTest::newRow("acl user next to a protected default user")
            << QStringLiteral("pw-right") << QStringLiteral("alice") << QStringLiteral("alice-pw")
            << QStringLiteral("alice:alice-pw@") << RedisFailure::None << QStringLiteral("alice");
}

void tst_RedisConnection::auth()
{
    QFETCH(QString, serverPassword);
    QFETCH(QString, aclUser);
    QFETCH(QString, aclPassword);
    QFETCH(QString, userInfo);
    QFETCH(RedisFailure, failure);
    QFETCH(QString, mention);

    RedisServer server;
    RedisServer::Options serverOptions;
    serverOptions.password = serverPassword;
    serverOptions.aclUser = aclUser;
    serverOptions.aclPassword = aclPassword;
    QVERIFY2(server.start(serverOptions), qPrintable(server.errorString()));

    RedisConnection connection(endpointOf(u"redis://" + userInfo + u"127.0.0.1:" + QString::number(server.port())));
    connection.setOptions(quickOptions());
    RedisReply reply;
    QVERIFY(roundTrip(connection, { "ACL", "WHOAMI" }, &reply));
    QCOMPARE(reply.failure, failure);
    if (failure == RedisFailure::None) {
        QCOMPARE(reply.value.string, mention.toUtf8());
        QVERIFY(connection.isReady());
        return;
    }
    QVERIFY2(reply.errorString.contains(mention), qPrintable(reply.errorString));
    const QString password = RedisEndpoint::fromString(u"redis://" + userInfo + u"h").password();
    if (!password.isEmpty()) {
        QVERIFY(!reply.errorString.contains(password));
        QVERIFY(!connection.lastError().contains(password));
    }
    // It keeps failing the same way (it retries, it does not give up or hang).
    QVERIFY(roundTrip(connection, { "PING" }, &reply));
    QCOMPARE(reply.failure, failure);
}

void tst_RedisConnection::tls_data()
{
    QTest::addColumn<QString>("query"); // {ca}, {wrongca}, {cert}, {key} stand for the test files
    QTest::addColumn<bool>("works");

    QTest::newRow("right CA") << QStringLiteral("ca={ca}") << true;
    QTest::newRow("right CA, client certificate") << QStringLiteral("ca={ca}&cert={cert}&key={key}") << true;
    QTest::newRow("right CA, name from the certificate") << QStringLiteral("ca={ca}&sni=localhost") << true;
    QTest::newRow("wrong CA") << QStringLiteral("ca={wrongca}") << false;
    QTest::newRow("wrong CA, verification off") << QStringLiteral("ca={wrongca}&verify=0") << true;
    QTest::newRow("system CAs only") << QString() << false;
    QTest::newRow("right CA, other host name") << QStringLiteral("ca={ca}&sni=other.example") << false;
}

void tst_RedisConnection::tls()
{
    QFETCH(QString, query);
    QFETCH(bool, works);

    RedisServer server;
    RedisServer::Options serverOptions;
    serverOptions.tls = true;
    serverOptions.password = QStringLiteral("tls-pw");
    QVERIFY2(server.start(serverOptions), qPrintable(server.errorString()));
    query.replace(QStringLiteral("{ca}"), server.caFile())
            .replace(QStringLiteral("{wrongca}"), server.wrongCaFile())
            .replace(QStringLiteral("{cert}"), server.clientCertFile())
            .replace(QStringLiteral("{key}"), server.clientKeyFile());
    const QString url = QStringLiteral("rediss://:tls-pw@127.0.0.1:%1/1").arg(server.port())
            + (query.isEmpty() ? QString() : u'?' + query);
    RedisConnection connection(endpointOf(url));
    connection.setOptions(quickOptions());

    RedisReply reply;
    QVERIFY(roundTrip(connection, { "CLIENT", "INFO" }, &reply));
    if (works) {
        QVERIFY2(reply.ok(), qPrintable(describe(reply)));
        QVERIFY2(reply.value.string.contains(" db=1 "), reply.value.string.constData());
        QVERIFY(connection.isReady());
        return;
    }
    QCOMPARE(reply.failure, RedisFailure::Tls);
    QVERIFY2(reply.errorString.contains(u"certificate", Qt::CaseInsensitive), qPrintable(reply.errorString));
    QVERIFY2(connection.lastError().contains(u"certificate", Qt::CaseInsensitive), qPrintable(connection.lastError()));
    QVERIFY(!reply.errorString.contains(u"tls-pw"));
    QVERIFY(roundTrip(connection, { "PING" }, &reply)); // the same on every later attempt
    QCOMPARE(reply.failure, RedisFailure::Tls);
}

void tst_RedisConnection::unixSocket()
{
    RedisServer server;
    RedisServer::Options serverOptions;
    serverOptions.unixSocket = true;
    serverOptions.password = QStringLiteral("unix-pw");
    QVERIFY2(server.start(serverOptions), qPrintable(server.errorString()));

    RedisConnection connection(endpointOf(server.unixUrl() + u"?db=2&password=unix-pw"));
    connection.setOptions(quickOptions());
    RedisReply reply;
    QVERIFY(roundTrip(connection, { "CLIENT", "INFO" }, &reply));
    QVERIFY2(reply.ok(), qPrintable(describe(reply)));
    QVERIFY2(reply.value.string.contains(" db=2 "), reply.value.string.constData());
    QVERIFY2(reply.value.string.contains(server.socketPath().toUtf8()), reply.value.string.constData());

    QList<ReplySlot> replies;
    for (int i = 0; i < 100; ++i)
        replies << sendTo(connection, { "INCR", "n" });
    QTRY_VERIFY(replies.last().done());
    for (int i = 0; i < replies.size(); ++i)
        QCOMPARE(replies[i].reply().value.integer, qint64(i + 1));

    // Reconnects through the socket file too.
    QSignalSpy lost(&connection, &RedisConnection::connectionLost);
    QVERIFY2(server.restart(), qPrintable(server.errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(lost.count() >= 1, 5000);
    QVERIFY2(pongWithin(connection, 5000), qPrintable(connection.lastError()));
}

void tst_RedisConnection::database_data()
{
    QTest::addColumn<int>("db");
    QTest::addColumn<bool>("works");
    QTest::newRow("db 5") << 5 << true;
    QTest::newRow("db 15 (the last one)") << 15 << true;
    QTest::newRow("db 99 (out of range)") << 99 << false;
}

void tst_RedisConnection::database()
{
    QFETCH(int, db);
    QFETCH(bool, works);

    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    RedisConnection connection(endpointOf(server.url() + u'/' + QString::number(db)));
    connection.setOptions(quickOptions());
    RedisReply reply;
    QVERIFY(roundTrip(connection, { "SET", "where", "here" }, &reply));
    if (!works) {
        QCOMPARE(reply.failure, RedisFailure::Protocol);
        QVERIFY2(reply.errorString.contains(u"SELECT"), qPrintable(reply.errorString));
        return;
    }
    QVERIFY2(reply.ok(), qPrintable(describe(reply)));
    QCOMPARE(server.command({ "GET", "where" }), QVariant()); // not in db 0
    const auto client = server.connectClient();
    QVERIFY(client);
    QCOMPARE(client->command({ "SELECT", QByteArray::number(db) }), QVariant(QByteArray("OK")));
    QCOMPARE(client->command({ "GET", "where" }), QVariant(QByteArray("here")));
}

void tst_RedisConnection::httpPeer_givesProtocolError()
{
    HttpPeer peer;
    QVERIFY(peer.start());
    RedisConnection connection(endpointOf(QStringLiteral("redis://127.0.0.1:%1").arg(peer.port())));
    connection.setOptions(quickOptions());
    QSignalSpy lost(&connection, &RedisConnection::connectionLost);

    const ReplySlot first = sendTo(connection, { "PING" });
    const ReplySlot second = sendTo(connection, { "GET", "x" });
    QTRY_VERIFY_WITH_TIMEOUT(second.done(), 2000);
    QVERIFY(first.done());
    QCOMPARE(first.reply().failure, RedisFailure::Protocol);
    QCOMPARE(second.reply().failure, RedisFailure::Protocol);
    QVERIFY2(first.reply().errorString.contains(u"protocol error"), qPrintable(first.reply().errorString));
    QVERIFY(first.elapsedMs() < 1000); // detected from the bytes, not by a timeout
    QCOMPARE(lost.count(), 0); // never established: the handshake's first reply was not RESP
    QVERIFY2(connection.lastError().contains(u"protocol error"), qPrintable(connection.lastError()));
}

void tst_RedisConnection::cutMidReply_failsPendingAndRecovers()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const QByteArray big(256 * 1024, 'b'); // under the reply cap
    QCOMPARE(server.command({ "SET", "big", big }), QVariant(QByteArray("OK")));
    FaultProxy proxy;
    QVERIFY2(proxy.start(server.port()), qPrintable(proxy.errorString()));

    RedisConnection connection(endpointOf(proxy.url()));
    connection.setOptions(quickOptions());
    QVERIFY(pongWithin(connection, 5000));
    QSignalSpy lost(&connection, &RedisConnection::connectionLost);

    // 64 KiB into the 256 KiB reply the connection is reset: the GET and what follows it fail.
    proxy.setCutAfterBytes(FaultProxy::Direction::ServerToClient, 64 * 1024, FaultProxy::CutMode::Once);
    const ReplySlot get = sendTo(connection, { "GET", "big" });
    const ReplySlot ping = sendTo(connection, { "PING" });
    const ReplySlot echo = sendTo(connection, { "ECHO", "after" });
    QTRY_VERIFY_WITH_TIMEOUT(echo.done(), 3000);
    for (const ReplySlot &slot : { get, ping, echo }) {
        QVERIFY(slot.done());
        QCOMPARE(slot.reply().failure, RedisFailure::Disconnected);
        QCOMPARE(slot.calls(), 1);
    }
    QCOMPARE(lost.count(), 1);

    // It comes back by itself, through a new proxied connection, and reads the whole value.
    QVERIFY2(pongWithin(connection, 5000), qPrintable(connection.lastError()));
    QVERIFY(proxy.totalConnections() >= 2);
    QCOMPARE(lost.count(), 1);
    RedisReply reply;
    QVERIFY(roundTrip(connection, { "GET", "big" }, &reply));
    QVERIFY2(reply.ok(), qPrintable(describe(reply)));
    QVERIFY(reply.value.string == big);
}

void tst_RedisConnection::serverSideKill_reconnectsAndReloadsScripts()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const RedisScript script(QByteArrayLiteral("return 'startup'"));
    RedisConnection connection(endpointOf(server.url()));
    connection.setOptions(quickOptions());
    connection.addStartupScript(script);
    QVERIFY(pongWithin(connection, 5000));
    const QVariant loaded = QVariant(QVariantList { qint64(1) });
    QCOMPARE(server.command({ "SCRIPT", "EXISTS", script.sha1() }), loaded);

    QCOMPARE(server.command({ "SCRIPT", "FLUSH" }), QVariant(QByteArray("OK")));
    QSignalSpy lost(&connection, &RedisConnection::connectionLost);
    QSignalSpy ready(&connection, &RedisConnection::ready);
    QVERIFY(server.command({ "CLIENT", "KILL", "TYPE", "normal" }).toLongLong() >= 1);
    QTRY_COMPARE_WITH_TIMEOUT(lost.count(), 1, 2000);
    QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, 5000);
    QCOMPARE(server.command({ "SCRIPT", "EXISTS", script.sha1() }), loaded); // loaded again by the handshake
}

void tst_RedisConnection::scriptFlush_survivedByNoscriptFallback()
{
    ServerAndConnection setup;
    QVERIFY(setup.start());
    RedisServer &server = setup.server;
    RedisConnection &connection = *setup.connection;

    const RedisScript script(QByteArrayLiteral("redis.call('RPUSH', KEYS[1], ARGV[1]) return {KEYS[1], ARGV[1]}"));
    const auto evalSlot = [&](const QByteArray &key, const QByteArray &arg) {
        ReplySlot slot;
        connection.evalScript(script, { key }, { arg }, slot.callback());
        return slot;
    };
    const auto check = [](const ReplySlot &slot, const QByteArray &key, const QByteArray &arg) {
        const RedisReply &r = slot.reply();
        return slot.calls() == 1 && r.ok() && r.value.type == RedisValue::Type::Array && r.value.elements.size() == 2
                && r.value.elements.at(0).string == key && r.value.elements.at(1).string == arg;
    };

    for (int round = 0; round < 3; ++round) {
        // Before each round the server forgets every script; a pipeline of calls, plain
        // commands in between, all get their own reply.
        QCOMPARE(server.command({ "SCRIPT", "FLUSH" }), QVariant(QByteArray("OK")));
        QList<ReplySlot> calls;
        QList<ReplySlot> echoes;
        for (int i = 0; i < 10; ++i) {
            calls << evalSlot("list", QByteArray::number(round * 10 + i));
            echoes << sendTo(connection, { "ECHO", QByteArray::number(i) });
        }
        QTRY_VERIFY_WITH_TIMEOUT(std::all_of(calls.cbegin(), calls.cend(), [](const ReplySlot &s) { return s.done(); }),
                                 5000);
        QTRY_VERIFY(echoes.last().done());
        for (int i = 0; i < 10; ++i) {
            QVERIFY2(check(calls[i], "list", QByteArray::number(round * 10 + i)), qPrintable(describe(calls[i].reply())));
            QCOMPARE(echoes[i].reply().value.string, QByteArray::number(i));
        }
        QCOMPARE(server.command({ "SCRIPT", "EXISTS", script.sha1() }), QVariant(QVariantList { qint64(1) }));
    }
    // Each call ran exactly once (a NOSCRIPT reply runs nothing; the EVAL runs it once).
    QCOMPARE(server.command({ "LLEN", "list" }), QVariant(qint64(30)));
    QCOMPARE(connection.pendingCount(), 0);
}

void tst_RedisConnection::scriptErrors_areRepliesNotFailures()
{
    ServerAndConnection setup;
    QVERIFY(setup.start());
    RedisConnection &connection = *setup.connection;

    ReplySlot slot;
    connection.evalScript(RedisScript(QByteArrayLiteral("return redis.error_reply('boom')")), {}, {}, slot.callback());
    QTRY_VERIFY(slot.done());
    QVERIFY(slot.reply().ok()); // the server answered: an error reply, not a transport failure
    QVERIFY(slot.reply().value.isError());
    QVERIFY2(slot.reply().errorString.contains(u"boom"), qPrintable(slot.reply().errorString));

    RedisReply reply;
    QVERIFY(roundTrip(connection, { "NOSUCHCOMMAND" }, &reply));
    QVERIFY(reply.ok());
    QVERIFY(reply.value.isError());
    QVERIFY(connection.isReady());
}

void tst_RedisConnection::injectedGarbage_givesProtocolErrorAndRecovers_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<bool>("withPending"); // a request waits for its reply when the bytes arrive

    QTest::newRow("not RESP") << QByteArray("garbage\r\n") << true;
    QTest::newRow("HTTP status line") << QByteArray("HTTP/1.1 200 OK\r\n\r\n") << true;
    QTest::newRow("binary") << QByteArray("\x00\xff\x13\x37\r\n", 6) << true;
    QTest::newRow("bad bulk length") << QByteArray("$abc\r\nxyz\r\n") << true;
    QTest::newRow("bad array length") << QByteArray("*x\r\n") << true;
    QTest::newRow("garbage after a good reply") << QByteArray("+OK\r\n?\r\n") << true;
    QTest::newRow("a reply nobody asked for") << QByteArray("+OK\r\n") << false;
}

void tst_RedisConnection::injectedGarbage_givesProtocolErrorAndRecovers()
{
    QFETCH(QByteArray, bytes);
    QFETCH(bool, withPending);

    ServerAndConnection setup;
    QVERIFY(setup.start());
    RedisConnection &connection = *setup.connection;
    QSignalSpy lost(&connection, &RedisConnection::connectionLost);

    // The server's real reply cannot arrive before the event loop runs again, so the
    // injected bytes are the first the connection reads for this request.
    ReplySlot slot;
    ReplySlot next;
    if (withPending) {
        slot = sendTo(connection, { "PING" });
        next = sendTo(connection, { "PING" });
    }
    connection.injectIncomingForTesting(bytes);
    QCOMPARE(lost.count(), 1);
    QVERIFY2(lost.at(0).at(0).toString().contains(u"protocol error"), qPrintable(lost.at(0).at(0).toString()));
    if (withPending) {
        QTRY_VERIFY(next.done());
        QCOMPARE(next.reply().failure, RedisFailure::Protocol);
        QVERIFY(slot.done());
        if (bytes.startsWith("+OK")) // a well-formed reply before the garbage still reached its request
            QVERIFY2(slot.reply().ok() && slot.reply().value.isStatus("OK"), qPrintable(describe(slot.reply())));
        else
            QCOMPARE(slot.reply().failure, RedisFailure::Protocol);
    }
    QVERIFY2(pongWithin(connection, 5000), qPrintable(connection.lastError()));
    QCOMPARE(lost.count(), 1);
}

void tst_RedisConnection::close_cancelsPendingAndLaterRequests()
{
    ServerAndConnection setup;
    QVERIFY(setup.start());
    RedisServer &server = setup.server;
    std::unique_ptr<RedisConnection> &connection = setup.connection;
    QSignalSpy lost(connection.get(), &RedisConnection::connectionLost);

    server.pause();
    const ReplySlot pending = sendTo(*connection, { "PING" });
    connection->close();
    QTRY_VERIFY(pending.done());
    QCOMPARE(pending.reply().failure, RedisFailure::Cancelled);
    QCOMPARE(connection->state(), RedisConnection::State::Closed);

    const ReplySlot later = sendTo(*connection, { "PING" });
    QVERIFY(!later.done());
    QTRY_VERIFY(later.done());
    QCOMPARE(later.reply().failure, RedisFailure::Cancelled);
    connection->open(); // closed for good
    QTest::qWait(100);
    QCOMPARE(connection->state(), RedisConnection::State::Closed);
    QCOMPARE(lost.count(), 0); // closing by the owner is not a lost connection
    server.resume();

    // Destroying a connection with requests in flight calls none of them.
    QVERIFY(server.command({ "PING" }).isValid());
    auto second = std::make_unique<RedisConnection>(endpointOf(server.url()));
    QVERIFY(pongWithin(*second, 5000));
    server.pause();
    const ReplySlot orphan = sendTo(*second, { "PING" });
    second.reset();
    server.resume();
    QTest::qWait(100);
    QVERIFY(!orphan.done());
}

QTEST_GUILESS_MAIN(tst_RedisConnection)
#include "tst_redisconnection.moc"
