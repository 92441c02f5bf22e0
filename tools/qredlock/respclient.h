// A one-shot RESP client for `qredlock status` and `qredlock release`.
//
// The library offers no raw commands (on purpose), so the tool carries this small client:
// one connection to one server, the handshake (AUTH, SELECT), a batch of pipelined
// commands, their replies, close. Asynchronous from start to end: it never waits inside
// a call and never runs a nested event loop; finished() arrives through the event loop.
#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtCore/QString>
#include <QtCore/QTimer>

#include <QRedlock/RedisEndpoint>

QT_BEGIN_NAMESPACE
class QIODevice;
QT_END_NAMESPACE

struct redisReader;

namespace QRedlockCli {

// One RESP2 reply.
struct RespValue
{
    enum class Type { Nil, Status, Error, Integer, String, Array };
    Type type = Type::Nil;
    qint64 integer = 0;
    QByteArray text;          // Status, Error and String payloads
    QList<RespValue> elements; // Array
};

class RespClient : public QObject
{
    Q_OBJECT

public:
    using Command = QList<QByteArray>;
    // Why a server gave no usable answer, for the exit status (68, 77, 76).
    enum class Failure { None, Unreachable, Auth, Protocol };

    // timeoutMs bounds the whole exchange: connect, handshake and every reply.
    RespClient(const QRedlock::RedisEndpoint &endpoint, int timeoutMs, QObject *parent = nullptr);
    ~RespClient() override;

    // Starts the exchange; call once. finished() follows, never from inside this call.
    void exchange(const QList<Command> &commands);

    const QRedlock::RedisEndpoint &endpoint() const { return m_endpoint; }
    // True when every command got a reply (a Redis error reply counts as a reply).
    bool succeeded() const { return m_error.isEmpty() && m_replies.size() == m_commandCount; }
    QString errorString() const { return m_error; }
    Failure failure() const { return m_failure; }
    // The kind of a Redis error reply: Auth for NOAUTH, WRONGPASS and NOPERM; Unreachable for
    // the rest (LOADING, READONLY, BUSY, ...: the server did not answer the question).
    static Failure failureOf(const QByteArray &errorReply);
    const QList<RespValue> &replies() const { return m_replies; }

Q_SIGNALS:
    void finished();

private:
    void connectTransport();
    void onConnected();
    void onReadyRead();
    void fail(const QString &message, Failure kind);
    void complete();

    QRedlock::RedisEndpoint m_endpoint;
    int m_timeoutMs;
    QTimer m_deadline;
    QIODevice *m_device = nullptr;
    redisReader *m_reader = nullptr;
    QByteArray m_request;      // handshake + commands, written once connected
    int m_handshakeCount = 0;  // replies that belong to AUTH / SELECT
    int m_commandCount = 0;
    int m_received = 0;
    QList<RespValue> m_replies;
    QString m_error;
    Failure m_failure = Failure::None;
    QString m_tlsError;        // a certificate problem, reported instead of the bare socket error
    bool m_done = false;
};

} // namespace QRedlockCli
