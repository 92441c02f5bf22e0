// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// RedisConnection: one pipelined connection to one Redis server.
//
// Moves bytes and matches replies to requests; knows nothing about locks.
// Transport: QTcpSocket / QSslSocket / QLocalSocket. RESP: commands are encoded here
// (writeCommand()), replies decoded by hiredis's reader (never hiredis's own networking). Every request has a deadline; replies arrive through
// the event loop, never synchronously from send().
#pragma once

#include "redisendpoint.h"
#include "redisvalue_p.h"

#include <QtCore/QObject>
#include <QtCore/QPointer>
#include <QtCore/QTimer>

#include <deque>
#include <functional>
#include <memory>

QT_BEGIN_NAMESPACE
class QAbstractSocket;
class QIODevice;
class QSslConfiguration;
class QSslSocket;
QT_END_NAMESPACE

struct redisReader;

namespace QRedlock {

// A Lua script sent as EVALSHA, with a fallback to EVAL when the server answers NOSCRIPT.
class RedisScript
{
public:
    explicit RedisScript(const QByteArray &source);
    const QByteArray &source() const { return m_source; }
    const QByteArray &sha1() const { return m_sha1; }

private:
    QByteArray m_source;
    QByteArray m_sha1; // lowercase hex
};

// What the reply being read has used so far (see RedisConnection::MaxReplyBytes); hiredis's
// reply builders reach it through the reader's privdata.
struct ReplyBudget
{
    qsizetype used = 0;
    bool exceeded = false;
};

class RedisConnection : public QObject
{
    Q_OBJECT
public:
    using Callback = std::function<void(const RedisReply &)>;

    enum class State { Disconnected, Connecting, Handshaking, Ready, WaitingToReconnect, Closed };
    Q_ENUM(State)

    struct Options
    {
        int connectTimeoutMs = 2000;  // TCP/TLS connect + handshake
        int requestTimeoutMs = 1000;  // default deadline of a request
        int reconnectMinMs = 50;      // first reconnect delay; also the least time between on-demand attempts
        int reconnectMaxMs = 2000;    // cap of the exponential backoff
    };

    explicit RedisConnection(const RedisEndpoint &endpoint, QObject *parent = nullptr);
    ~RedisConnection() override;

    void setOptions(const Options &options);
    const Options &options() const { return m_options; }
    const RedisEndpoint &endpoint() const { return m_endpoint; }

    State state() const { return m_state; }
    bool isReady() const { return m_state == State::Ready; }
    // The reason of the last failure (connect, auth, TLS, protocol...), empty after a good handshake.
    QString lastError() const { return m_lastError; }
    int pendingCount() const { return int(m_inflight.size()); }
    // The server's run_id (INFO server, read in every handshake): the same for every URL that
    // reaches one redis-server process. Empty before the first handshake, or when INFO is denied.
    QByteArray serverId() const { return m_serverId; }

    // The most a reply may occupy while it is read (raw bytes buffered plus the values built
    // from them). Lock replies are a few hundred bytes; a server that sends more is dropped
    // with a protocol error, so memory stays bounded whatever it sends.
    static constexpr qsizetype MaxReplyBytes = 512 * 1024;

    // Scripts loaded with SCRIPT LOAD during every handshake (saves a NOSCRIPT round trip).
    void addStartupScript(const RedisScript &script);

    // Starts connecting (idempotent). send() also does it.
    void open();
    // Drops the connection for good: pending requests fail with RedisFailure::Cancelled.
    void close();

    // Queues one command. timeoutMs < 0: the default request timeout.
    // While the connection waits to reconnect after an outage (connect failure, dropped
    // connection, a request that timed out), a request starts the next attempt at once if the last one began at
    // least reconnectMinMs ago, and waits for it like any request sent before the handshake;
    // otherwise, and after AUTH/TLS/protocol failures, it fails at once (through the event
    // loop) with the reason of that failure: a dead server costs nothing.
    void send(const QList<QByteArray> &argv, Callback callback, int timeoutMs = -1);
    // EVALSHA with a transparent fallback to EVAL on NOSCRIPT.
    void evalScript(const RedisScript &script, const QList<QByteArray> &keys,
                    const QList<QByteArray> &args, Callback callback, int timeoutMs = -1);

    // Subscriber use (RESP2 pub/sub): replies that are `message` arrays (["message", channel,
    // payload]) are not matched to requests but handed to this handler, in wire order. Every
    // other reply (the confirmations of SUBSCRIBE / UNSUBSCRIBE, errors) still answers the
    // oldest request. Send one channel per (UN)SUBSCRIBE so that each has one reply.
    using PushHandler = std::function<void(const RedisValue &message)>;
    void setPushHandler(PushHandler handler) { m_pushHandler = std::move(handler); }

    // Feeds raw bytes as if the server sent them (fuzzing and tests of reply handling).
    void injectIncomingForTesting(const QByteArray &bytes);

Q_SIGNALS:
    void stateChanged(QRedlock::RedisConnection::State state);
    void ready();
    void connectionLost(const QString &reason);

private:
    struct ScriptCall;
    struct Pending
    {
        Callback callback;
        qint64 deadlineNs = 0;
        std::shared_ptr<ScriptCall> script; // set for EVALSHA: retried as EVAL on NOSCRIPT
        quint8 handshakeStep = 0;           // 0: user request; else a handshake step
        bool done = false;                  // callback already called (timed out): discard the reply
    };
    enum HandshakeStep : quint8 { NoStep = 0, AuthStep, SelectStep, InfoStep, ScriptLoadStep, ScriptProbeStep };

    void enqueue(const QList<QByteArray> &argv, Pending &&pending);
    void startConnecting();
    // The parts of startConnecting(): drop the old transport and reader; a Unix socket; a TLS
    // socket with its configuration (nullptr after reporting a failure); the TCP socket's signals.
    void resetTransport();
    void connectLocalSocket();
    QString configureTls(QSslConfiguration *conf) const; // empty, or why the files are unusable
    QSslSocket *createTlsSocket();
    void watchTcpSocket(QAbstractSocket *socket);
    void onTransportConnected();
    void onTransportError(RedisFailure failure, const QString &message);
    void onReadyRead();
    void processReplies();
    void dispatch(RedisValue &&value);
    void handleHandshakeReply(const Pending &pending, const RedisValue &value);
    void finishHandshake();
    void dropConnection(RedisFailure failure, const QString &reason, bool reconnect);
    void failAll(RedisFailure failure, const QString &reason);
    void scheduleReconnect();
    bool reconnectOnDemand() const;
    void armDeadlineTimer();
    qint64 deadlineAfter(int timeoutMs) const;
    bool bytesWaitingInKernel() const; // timeoutMs < 0: the default request timeout
    void onDeadlineTimer();
    void setState(State state);
    // Handshake steps go to the socket at once; user commands wait in the outbox until ready.
    enum class WriteTo { Auto, Socket };
    void writeCommand(const QList<QByteArray> &argv, WriteTo to = WriteTo::Auto);
    void completeLater(Callback callback, RedisFailure failure, const QString &message);
    QString describe() const;

    RedisEndpoint m_endpoint;
    Options m_options;
    State m_state = State::Disconnected;
    QIODevice *m_device = nullptr;
    redisReader *m_reader = nullptr;
    QTimer m_deadlineTimer;
    QTimer m_connectTimer;
    QTimer m_reconnectTimer;
    qint64 m_armedDeadlineNs = 0;
    std::deque<Pending> m_inflight;   // handshake steps first, then user requests, in wire order
    QByteArray m_outbox;              // user commands written before the handshake finished
    QList<RedisScript> m_startupScripts;
    QString m_lastError;
    RedisFailure m_lastFailure = RedisFailure::None;
    int m_reconnectAttempts = 0;
    qint64 m_lastAttemptNs = 0;       // monotonicNs() when the last connect attempt began
    quint64 m_epoch = 0;              // bumped whenever the transport is torn down
    int m_handshakeRemaining = 0;
    int m_deferredJudgements = 0;     // deadline checks put off for unread bytes in a row
    QByteArray m_serverId;
    QByteArray m_handshakeServerId;   // read during the current handshake, published when it ends
    QString m_scriptsRefused;         // set during a handshake whose script probe was refused by ACL
    ReplyBudget m_budget;
    PushHandler m_pushHandler;
};

// Monotonic clock in nanoseconds shared by the library's timing code.
qint64 monotonicNs();

} // namespace QRedlock
