#include "respclient.h"

#include <QtCore/QFile>
#include <QtCore/QVarLengthArray>
#include <QtNetwork/QLocalSocket>
#include <QtNetwork/QSslConfiguration>
#include <QtNetwork/QSslKey>
#include <QtNetwork/QSslSocket>
#include <QtNetwork/QTcpSocket>

#include <hiredis/hiredis.h>

using QRedlock::RedisEndpoint;

namespace QRedlockCli {

namespace {

QByteArray encode(const RespClient::Command &argv)
{
    QVarLengthArray<const char *, 8> parts;
    QVarLengthArray<size_t, 8> lengths;
    for (const QByteArray &a : argv) {
        parts.append(a.constData());
        lengths.append(size_t(a.size()));
    }
    char *formatted = nullptr;
    const int n = redisFormatCommandArgv(&formatted, int(argv.size()), parts.data(), lengths.constData());
    QByteArray out;
    if (n > 0 && formatted)
        out = QByteArray(formatted, n);
    redisFreeCommand(formatted);
    return out;
}

RespValue fromHiredis(const redisReply *r)
{
    RespValue v;
    switch (r->type) {
    case REDIS_REPLY_STATUS: v.type = RespValue::Type::Status; break;
    case REDIS_REPLY_ERROR: v.type = RespValue::Type::Error; break;
    case REDIS_REPLY_STRING: v.type = RespValue::Type::String; break;
    case REDIS_REPLY_INTEGER: v.type = RespValue::Type::Integer; break;
    case REDIS_REPLY_ARRAY: v.type = RespValue::Type::Array; break;
    default: return v; // nil
    }
    // hiredis leaves the fields a type does not use zeroed.
    v.integer = r->integer;
    if (r->str)
        v.text = QByteArray(r->str, qsizetype(r->len));
    for (size_t i = 0; i < r->elements; ++i)
        v.elements.append(fromHiredis(r->element[i]));
    return v;
}

// The TLS settings a rediss:// URL asks for; an empty string on success, else the problem.
QString configureTls(QSslSocket *socket, const RedisEndpoint &e)
{
    QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
    if (!e.caFile().isEmpty()) {
        const QList<QSslCertificate> cas = QSslCertificate::fromPath(e.caFile());
        if (cas.isEmpty())
            return QStringLiteral("no certificate in CA file '%1'").arg(e.caFile());
        conf.setCaCertificates(cas);
    }
    if (!e.certFile().isEmpty()) {
        const QList<QSslCertificate> chain = QSslCertificate::fromPath(e.certFile());
        QFile file(e.keyFile());
        const QByteArray pem = file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
        QSslKey key;
        for (QSsl::KeyAlgorithm algorithm : { QSsl::Rsa, QSsl::Ec }) {
            if (key.isNull())
                key = QSslKey(pem, algorithm);
        }
        if (chain.isEmpty() || key.isNull())
            return QStringLiteral("cannot load the client certificate '%1' or its key '%2'").arg(e.certFile(), e.keyFile());
        conf.setLocalCertificate(chain.first());
        conf.setPrivateKey(key);
    }
    conf.setPeerVerifyMode(e.verifyPeer() ? QSslSocket::VerifyPeer : QSslSocket::VerifyNone);
    socket->setSslConfiguration(conf);
    return QString();
}

} // namespace

RespClient::RespClient(const RedisEndpoint &endpoint, int timeoutMs, QObject *parent)
    : QObject(parent), m_endpoint(endpoint), m_timeoutMs(timeoutMs)
{
    m_deadline.setSingleShot(true);
    connect(&m_deadline, &QTimer::timeout, this,
            [this] { fail(QStringLiteral("no answer within %1 ms").arg(m_timeoutMs), Failure::Unreachable); });
}

RespClient::~RespClient()
{
    if (m_reader)
        redisReaderFree(m_reader);
}

void RespClient::exchange(const QList<Command> &commands)
{
    if (m_endpoint.hasPassword()) {
        Command auth { QByteArrayLiteral("AUTH") };
        if (!m_endpoint.username().isEmpty())
            auth << m_endpoint.username().toUtf8();
        auth << m_endpoint.password().toUtf8();
        m_request += encode(auth);
        ++m_handshakeCount;
    }
    if (m_endpoint.database() != 0) {
        m_request += encode({ QByteArrayLiteral("SELECT"), QByteArray::number(m_endpoint.database()) });
        ++m_handshakeCount;
    }
    for (const Command &c : commands)
        m_request += encode(c);
    m_commandCount = int(commands.size());
    m_reader = redisReaderCreate();
    m_deadline.start(m_timeoutMs);
    // Even a synchronous failure (no TLS backend, a bad key file) is reported from the event loop.
    QMetaObject::invokeMethod(this, &RespClient::connectTransport, Qt::QueuedConnection);
}

void RespClient::connectTransport()
{
    if (m_done)
        return;
    if (m_endpoint.isUnixSocket()) {
        auto *local = new QLocalSocket(this);
        m_device = local;
        connect(local, &QLocalSocket::connected, this, &RespClient::onConnected);
        connect(local, &QLocalSocket::readyRead, this, &RespClient::onReadyRead);
        connect(local, &QLocalSocket::errorOccurred, this,
                [this, local] { fail(local->errorString(), Failure::Unreachable); });
        local->connectToServer(m_endpoint.socketPath());
        return;
    }
    QAbstractSocket *socket = nullptr;
    if (m_endpoint.isTls()) {
        if (!QSslSocket::supportsSsl()) {
            fail(QStringLiteral("TLS is not available (no TLS backend)"), Failure::Protocol);
            return;
        }
        auto *ssl = new QSslSocket(this);
        socket = ssl;
        m_device = ssl;
        const QString problem = configureTls(ssl, m_endpoint);
        if (!problem.isEmpty()) {
            fail(problem, Failure::Protocol);
            return;
        }
        connect(ssl, &QSslSocket::encrypted, this, &RespClient::onConnected);
        connect(ssl, &QSslSocket::sslErrors, this, [this](const QList<QSslError> &errors) {
            QStringList texts;
            for (const QSslError &e : errors)
                texts << e.errorString();
            m_tlsError = QStringLiteral("TLS verification failed: %1").arg(texts.join(QStringLiteral("; ")));
        });
    } else {
        socket = new QTcpSocket(this);
        m_device = socket;
        connect(socket, &QAbstractSocket::connected, this, &RespClient::onConnected);
    }
    connect(socket, &QAbstractSocket::readyRead, this, &RespClient::onReadyRead);
    connect(socket, &QAbstractSocket::errorOccurred, this, [this, socket](QAbstractSocket::SocketError error) {
        const bool tls = !m_tlsError.isEmpty() || error == QAbstractSocket::SslHandshakeFailedError
                || error == QAbstractSocket::SslInternalError || error == QAbstractSocket::SslInvalidUserDataError;
        fail(m_tlsError.isEmpty() ? socket->errorString() : m_tlsError, tls ? Failure::Protocol : Failure::Unreachable);
    });
    if (auto *ssl = qobject_cast<QSslSocket *>(socket))
        ssl->connectToHostEncrypted(m_endpoint.host(), m_endpoint.port(), m_endpoint.serverName());
    else
        socket->connectToHost(m_endpoint.host(), m_endpoint.port());
}

void RespClient::onConnected()
{
    if (m_done)
        return;
    if (m_handshakeCount + m_commandCount == 0) {
        complete();
        return;
    }
    m_device->write(m_request);
}

void RespClient::onReadyRead()
{
    if (m_done)
        return;
    const QByteArray bytes = m_device->readAll();
    if (redisReaderFeed(m_reader, bytes.constData(), size_t(bytes.size())) != REDIS_OK) {
        fail(QStringLiteral("protocol error: %1").arg(QString::fromUtf8(m_reader->errstr)), Failure::Protocol);
        return;
    }
    for (;;) {
        void *raw = nullptr;
        if (redisReaderGetReply(m_reader, &raw) != REDIS_OK) {
            fail(QStringLiteral("protocol error: %1 (is this a Redis server?)").arg(QString::fromUtf8(m_reader->errstr)),
                 Failure::Protocol);
            return;
        }
        if (!raw)
            return;
        RespValue value = fromHiredis(static_cast<const redisReply *>(raw));
        freeReplyObject(raw);
        const int index = m_received++;
        if (index < m_handshakeCount) {
            if (value.type == RespValue::Type::Error) {
                const bool auth = index == 0 && m_endpoint.hasPassword();
                fail(QStringLiteral("%1 refused: %2").arg(auth ? QStringLiteral("AUTH") : QStringLiteral("SELECT"),
                                                         QString::fromUtf8(value.text)),
                     auth ? Failure::Auth : failureOf(value.text));
                return;
            }
            continue;
        }
        m_replies.append(std::move(value));
        if (m_replies.size() == m_commandCount) {
            complete();
            return;
        }
    }
}

RespClient::Failure RespClient::failureOf(const QByteArray &errorReply)
{
    for (const char *code : { "NOAUTH", "WRONGPASS", "NOPERM" }) {
        if (errorReply.startsWith(code))
            return Failure::Auth;
    }
    return Failure::Unreachable;
}

void RespClient::fail(const QString &message, Failure kind)
{
    if (m_done)
        return;
    m_error = message.isEmpty() ? QStringLiteral("connection failed") : message;
    m_failure = kind;
    complete();
}

void RespClient::complete()
{
    if (m_done)
        return;
    m_done = true;
    m_deadline.stop();
    if (m_device) {
        // Later: this may run inside one of the socket's own signals. Its destructor hangs up.
        m_device->disconnect(this);
        m_device->deleteLater();
        m_device = nullptr;
    }
    QMetaObject::invokeMethod(this, &RespClient::finished, Qt::QueuedConnection);
}

} // namespace QRedlockCli
