// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "redisconnection_p.h"

#include "logging_p.h"
#include "redisreader_p.h"

#include <QtCore/QCryptographicHash>
#include <QtCore/QFile>
#include <QtCore/QRandomGenerator>
#include <QtCore/QVarLengthArray>
#include <QtNetwork/QLocalSocket>
#include <QtNetwork/QSslConfiguration>
#include <QtNetwork/QSslKey>
#include <QtNetwork/QSslSocket>
#include <QtNetwork/QTcpSocket>

#include <hiredis/hiredis.h>

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstring>

namespace QRedlock {

qint64 monotonicNs()
{
    using namespace std::chrono;
    return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

RedisScript::RedisScript(const QByteArray &source)
    : m_source(source),
      m_sha1(QCryptographicHash::hash(source, QCryptographicHash::Sha1).toHex())
{
}

struct RedisConnection::ScriptCall
{
    QByteArray source;
    QList<QByteArray> keys;
    QList<QByteArray> args;
};

namespace {

constexpr qint64 NsPerMs = 1000000;

// Writes "<prefix><n>\r\n" at p (RESP header); returns the end.
char *putLength(char *p, char prefix, qsizetype n)
{
    char digits[24];
    int k = 0;
    do {
        digits[k++] = char('0' + n % 10);
        n /= 10;
    } while (n > 0);
    *p++ = prefix;
    while (k > 0)
        *p++ = digits[--k];
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

bool startsWith(const RedisValue &v, const char *prefix)
{
    return v.type == RedisValue::Type::Error && v.string.startsWith(prefix);
}

// "NOPERM this user has no permissions to run the 'evalsha' command" (Redis 7; Redis 6 says
// "User x has no permissions...") becomes "permission denied for EVALSHA by ACL (...)".
QString aclDenial(const QByteArray &error)
{
    const QString text = QString::fromUtf8(error);
    QString what = QStringLiteral("this request");
    const qsizetype run = text.indexOf(u"run the '");
    if (run >= 0) {
        const qsizetype from = run + 9;
        const qsizetype to = text.indexOf(u'\'', from);
        if (to > from)
            what = text.mid(from, to - from).toUpper();
    } else if (text.contains(u"keys")) {
        what = QStringLiteral("the lock's keys");
    } else if (text.contains(u"channel")) {
        what = QStringLiteral("the channel");
    }
    return QStringLiteral("permission denied for %1 by ACL (%2)").arg(what, text);
}

// The run_id line of an INFO server reply.
QByteArray runIdOf(const QByteArray &info)
{
    const QByteArray field = QByteArrayLiteral("run_id:");
    const qsizetype at = info.indexOf(field);
    if (at < 0)
        return QByteArray();
    const qsizetype from = at + field.size();
    qsizetype to = from;
    while (to < info.size() && info.at(to) != '\r' && info.at(to) != '\n')
        ++to;
    return info.mid(from, to - from).trimmed();
}

// A keyless script run in every handshake that loads scripts: tells at once whether the ACL
// lets this user run scripts, rather than after a lock was taken with SET and could then be
// neither extended nor released.
const RedisScript &probeScript()
{
    static const RedisScript probe(QByteArrayLiteral("return 1"));
    return probe;
}

} // namespace

RedisConnection::RedisConnection(const RedisEndpoint &endpoint, QObject *parent)
    : QObject(parent), m_endpoint(endpoint)
{
    m_deadlineTimer.setSingleShot(true);
    m_deadlineTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_deadlineTimer, &QTimer::timeout, this, &RedisConnection::onDeadlineTimer);
    m_connectTimer.setSingleShot(true);
    m_connectTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_connectTimer, &QTimer::timeout, this, [this] {
        onTransportError(RedisFailure::Connect,
                         QStringLiteral("connect timeout after %1 ms").arg(m_options.connectTimeoutMs));
    });
    m_reconnectTimer.setSingleShot(true);
    connect(&m_reconnectTimer, &QTimer::timeout, this, &RedisConnection::startConnecting);
}

RedisConnection::~RedisConnection()
{
    // Owners close() first when they want callbacks; here they would call into half-destroyed objects.
    ++m_epoch;
    m_inflight.clear();
    if (m_device) {
        m_device->disconnect(this);
        // Hand commands queued in this event-loop turn (the releases of locks destroyed
        // together with their manager) to the kernel: deleting the socket discards its buffer.
        if (auto *socket = qobject_cast<QAbstractSocket *>(m_device))
            socket->flush();
        else if (auto *local = qobject_cast<QLocalSocket *>(m_device))
            local->flush();
        delete m_device;
    }
    if (m_reader)
        redisReaderFree(m_reader);
}

void RedisConnection::setOptions(const Options &options)
{
    m_options = options;
}

void RedisConnection::addStartupScript(const RedisScript &script)
{
    m_startupScripts.append(script);
}

QString RedisConnection::describe() const
{
    return m_endpoint.toString();
}

void RedisConnection::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    Q_EMIT stateChanged(state);
}

void RedisConnection::open()
{
    if (m_state == State::Disconnected)
        startConnecting();
}

void RedisConnection::close()
{
    if (m_state == State::Closed)
        return;
    m_reconnectTimer.stop();
    dropConnection(RedisFailure::Cancelled, QStringLiteral("connection closed"), false);
    setState(State::Closed);
}

void RedisConnection::completeLater(Callback callback, RedisFailure failure, const QString &message)
{
    QMetaObject::invokeMethod(
            this,
            [callback = std::move(callback), failure, message] {
                RedisReply reply;
                reply.failure = failure;
                reply.errorString = message;
                callback(reply);
            },
            Qt::QueuedConnection);
}

void RedisConnection::send(const QList<QByteArray> &argv, Callback callback, int timeoutMs)
{
    Pending p;
    p.callback = std::move(callback);
    p.deadlineNs = deadlineAfter(timeoutMs);
    enqueue(argv, std::move(p));
}

void RedisConnection::evalScript(const RedisScript &script, const QList<QByteArray> &keys,
                                 const QList<QByteArray> &args, Callback callback, int timeoutMs)
{
    QList<QByteArray> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv << QByteArrayLiteral("EVALSHA") << script.sha1() << QByteArray::number(keys.size());
    argv << keys << args;
    Pending p;
    p.callback = std::move(callback);
    p.deadlineNs = deadlineAfter(timeoutMs);
    p.script = std::make_shared<ScriptCall>(ScriptCall { script.source(), keys, args });
    enqueue(argv, std::move(p));
}

void RedisConnection::enqueue(const QList<QByteArray> &argv, Pending &&pending)
{
    switch (m_state) {
    case State::Closed:
        completeLater(std::move(pending.callback), RedisFailure::Cancelled,
                      QStringLiteral("%1: connection closed").arg(describe()));
        return;
    case State::WaitingToReconnect:
        // Someone needs the server now: try again at once rather than after a backoff that
        // may have grown to seconds during a long outage (it would delay the first lock after
        // the server is back by as much). At most one such attempt per reconnectMinMs.
        if (reconnectOnDemand()) {
            startConnecting();
            if (m_state != State::WaitingToReconnect)
                break;
        }
        // Fail fast: the server is known to be unreachable until the next reconnect attempt.
        completeLater(std::move(pending.callback),
                      m_lastFailure == RedisFailure::None ? RedisFailure::Connect : m_lastFailure,
                      QStringLiteral("%1: not connected (%2)").arg(describe(), m_lastError));
        return;
    case State::Disconnected:
        startConnecting();
        if (m_state == State::WaitingToReconnect) { // could not even start
            enqueue(argv, std::move(pending));
            return;
        }
        break;
    case State::Connecting:
    case State::Handshaking:
    case State::Ready:
        break;
    }
    writeCommand(argv);
    const qint64 deadline = pending.deadlineNs;
    m_inflight.push_back(std::move(pending));
    if (!m_deadlineTimer.isActive() || deadline < m_armedDeadlineNs)
        armDeadlineTimer();
}

bool RedisConnection::bytesWaitingInKernel() const
{
    qintptr fd = -1;
    if (auto *socket = qobject_cast<QAbstractSocket *>(m_device))
        fd = socket->socketDescriptor();
    else if (auto *local = qobject_cast<QLocalSocket *>(m_device))
        fd = local->socketDescriptor();
    int pending = 0;
    return fd >= 0 && ::ioctl(int(fd), FIONREAD, &pending) == 0 && pending > 0;
}

qint64 RedisConnection::deadlineAfter(int timeoutMs) const
{
    return monotonicNs() + qint64(timeoutMs < 0 ? m_options.requestTimeoutMs : timeoutMs) * NsPerMs;
}

void RedisConnection::writeCommand(const QList<QByteArray> &argv, WriteTo to)
{
    // A RESP array of bulk strings, encoded here: hiredis's redisFormatCommandArgv spends
    // about 5,000 instructions a command in sprintf (a third of a whole lock cycle).
    qsizetype size = 16;
    for (const QByteArray &a : argv)
        size += a.size() + 24;
    QVarLengthArray<char, 1024> buffer(size);
    char *p = putLength(buffer.data(), '*', argv.size());
    for (const QByteArray &a : argv) {
        p = putLength(p, '$', a.size());
        memcpy(p, a.constData(), size_t(a.size()));
        p += a.size();
        *p++ = '\r';
        *p++ = '\n';
    }
    const qsizetype len = p - buffer.constData();
    // Before the handshake is done, user commands wait in the outbox; once ready they go
    // to the socket, whose buffer leaves in one write per event-loop turn.
    if (m_state != State::Ready && to == WriteTo::Auto) {
        m_outbox.append(buffer.constData(), len);
        return;
    }
    qsizetype sent = 0;
    if (m_inflight.empty() && m_endpoint.transport() == RedisEndpoint::Transport::Tcp) {
        // An idle connection has nothing to coalesce with: send at once rather than one
        // event-loop turn later. (Qt's deferred write also toggles the write notifier, which
        // costs the glib dispatcher two wake-ups: -13 % acquire p50, -20 % instructions.)
        auto *socket = static_cast<QAbstractSocket *>(m_device);
        if (socket->bytesToWrite() == 0) {
            const ssize_t n = ::send(int(socket->socketDescriptor()), buffer.constData(), size_t(len),
                                     MSG_NOSIGNAL | MSG_DONTWAIT);
            sent = n > 0 ? qsizetype(n) : 0;
        }
    }
    if (sent < len)
        m_device->write(buffer.constData() + sent, len - sent);
}

bool RedisConnection::reconnectOnDemand() const
{
    // Only outages end by themselves; a refused password, a TLS or protocol failure is a
    // configuration problem that retrying on every request would only hammer the server with.
    const bool transient = m_lastFailure == RedisFailure::Connect || m_lastFailure == RedisFailure::Disconnected
            || m_lastFailure == RedisFailure::Timeout;
    const qint64 interval = qint64(std::max(1, m_options.reconnectMinMs)) * NsPerMs;
    return transient && monotonicNs() - m_lastAttemptNs >= interval;
}

void RedisConnection::startConnecting()
{
    if (m_state == State::Closed)
        return;
    resetTransport();
    setState(State::Connecting);
    m_connectTimer.start(m_options.connectTimeoutMs);
    if (m_endpoint.isUnixSocket()) {
        connectLocalSocket();
        return;
    }
    QSslSocket *ssl = nullptr;
    if (m_endpoint.isTls()) {
        ssl = createTlsSocket();
        if (!ssl)
            return; // onTransportError() said why
    }
    QAbstractSocket *socket = ssl ? static_cast<QAbstractSocket *>(ssl) : new QTcpSocket(this);
    if (!ssl)
        connect(socket, &QAbstractSocket::connected, this, &RedisConnection::onTransportConnected);
    m_device = socket;
    watchTcpSocket(socket);
    if (ssl)
        ssl->connectToHostEncrypted(m_endpoint.host(), m_endpoint.port(), m_endpoint.serverName());
    else
        socket->connectToHost(m_endpoint.host(), m_endpoint.port());
}

void RedisConnection::resetTransport()
{
    m_reconnectTimer.stop();
    m_lastAttemptNs = monotonicNs();
    ++m_epoch;
    if (m_device) {
        m_device->disconnect(this);
        m_device->deleteLater();
        m_device = nullptr;
    }
    if (m_reader)
        redisReaderFree(m_reader);
    m_reader = createGuardedReader(&m_budget);
    m_handshakeRemaining = 0;
}

void RedisConnection::connectLocalSocket()
{
    const quint64 epoch = m_epoch;
    auto *socket = new QLocalSocket(this);
    m_device = socket;
    connect(socket, &QLocalSocket::connected, this, &RedisConnection::onTransportConnected);
    connect(socket, &QLocalSocket::readyRead, this, &RedisConnection::onReadyRead);
    connect(socket, &QLocalSocket::errorOccurred, this, [this, socket, epoch](QLocalSocket::LocalSocketError) {
        if (epoch == m_epoch)
            onTransportError(m_state == State::Connecting ? RedisFailure::Connect : RedisFailure::Disconnected,
                             socket->errorString());
    });
    connect(socket, &QLocalSocket::disconnected, this, [this, epoch] {
        if (epoch == m_epoch)
            onTransportError(RedisFailure::Disconnected, QStringLiteral("server closed the connection"));
    });
    socket->connectToServer(m_endpoint.socketPath());
}

QString RedisConnection::configureTls(QSslConfiguration *conf) const
{
    if (!m_endpoint.caFile().isEmpty()) {
        const QList<QSslCertificate> cas = QSslCertificate::fromPath(m_endpoint.caFile());
        if (cas.isEmpty())
            return QStringLiteral("no certificate in CA file '%1'").arg(m_endpoint.caFile());
        conf->setCaCertificates(cas);
    }
    if (!m_endpoint.certFile().isEmpty()) {
        const QList<QSslCertificate> certs = QSslCertificate::fromPath(m_endpoint.certFile());
        QFile keyFile(m_endpoint.keyFile());
        QByteArray keyPem;
        if (keyFile.open(QIODevice::ReadOnly))
            keyPem = keyFile.readAll();
        QSslKey key(keyPem, QSsl::Rsa);
        if (key.isNull())
            key = QSslKey(keyPem, QSsl::Ec);
        if (certs.isEmpty() || key.isNull())
            return QStringLiteral("cannot load client certificate '%1' / key '%2'")
                    .arg(m_endpoint.certFile(), m_endpoint.keyFile());
        conf->setLocalCertificate(certs.first());
        conf->setPrivateKey(key);
    }
    conf->setPeerVerifyMode(m_endpoint.verifyPeer() ? QSslSocket::VerifyPeer : QSslSocket::VerifyNone);
    return QString();
}

QSslSocket *RedisConnection::createTlsSocket()
{
    if (!QSslSocket::supportsSsl()) {
        onTransportError(RedisFailure::Tls, QStringLiteral("TLS is not available (no TLS backend)"));
        return nullptr;
    }
    auto *ssl = new QSslSocket(this);
    QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
    const QString problem = configureTls(&conf);
    if (!problem.isEmpty()) {
        m_device = ssl;
        onTransportError(RedisFailure::Tls, problem);
        return nullptr;
    }
    ssl->setSslConfiguration(conf);
    const quint64 epoch = m_epoch;
    connect(ssl, &QSslSocket::encrypted, this, &RedisConnection::onTransportConnected);
    connect(ssl, &QSslSocket::sslErrors, this, [this, epoch](const QList<QSslError> &errors) {
        if (epoch != m_epoch)
            return;
        QStringList texts;
        for (const QSslError &e : errors)
            texts << e.errorString();
        m_lastError = QStringLiteral("TLS verification failed: %1").arg(texts.join(QStringLiteral("; ")));
        m_lastFailure = RedisFailure::Tls;
    });
    return ssl;
}

void RedisConnection::watchTcpSocket(QAbstractSocket *socket)
{
    const quint64 epoch = m_epoch;
    connect(socket, &QAbstractSocket::readyRead, this, &RedisConnection::onReadyRead);
    connect(socket, &QAbstractSocket::errorOccurred, this, [this, socket, epoch](QAbstractSocket::SocketError err) {
        if (epoch != m_epoch)
            return;
        const bool tlsError = err == QAbstractSocket::SslHandshakeFailedError
                || err == QAbstractSocket::SslInternalError || err == QAbstractSocket::SslInvalidUserDataError
                || (m_lastFailure == RedisFailure::Tls && m_state != State::Ready);
        QString message = socket->errorString();
        if (tlsError && m_lastFailure == RedisFailure::Tls && !m_lastError.isEmpty())
            message = m_lastError;
        const bool beforeConnect = m_state == State::Connecting;
        onTransportError(tlsError ? RedisFailure::Tls
                                  : (beforeConnect ? RedisFailure::Connect : RedisFailure::Disconnected),
                         message);
    });
    connect(socket, &QAbstractSocket::disconnected, this, [this, epoch] {
        if (epoch == m_epoch)
            onTransportError(RedisFailure::Disconnected, QStringLiteral("server closed the connection"));
    });
}

void RedisConnection::onTransportConnected()
{
    if (auto *socket = qobject_cast<QAbstractSocket *>(m_device)) {
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        socket->setSocketOption(QAbstractSocket::KeepAliveOption, 1);
    }
    setState(State::Handshaking);
    qCDebug(lcConnection) << "connected to" << describe();

    // The handshake goes first on the wire; user commands queued meanwhile follow it.
    std::deque<Pending> waiting;
    waiting.swap(m_inflight);
    // The handshake is a few pipelined commands: it gets the time of two requests (within
    // the connect timeout), so that a path that swallows replies costs little more than a
    // request's deadline before the next attempt.
    const int handshakeMs = std::min(m_options.connectTimeoutMs, 2 * std::max(1, m_options.requestTimeoutMs));
    const qint64 deadline = monotonicNs() + qint64(handshakeMs) * NsPerMs;
    const auto step = [&](HandshakeStep s, const QList<QByteArray> &argv) {
        Pending p;
        p.handshakeStep = s;
        p.deadlineNs = deadline;
        m_inflight.push_back(std::move(p));
        writeCommand(argv, WriteTo::Socket);
        ++m_handshakeRemaining;
    };
    if (m_endpoint.hasPassword()) {
        if (m_endpoint.username().isEmpty())
            step(AuthStep, { QByteArrayLiteral("AUTH"), m_endpoint.password().toUtf8() });
        else
            step(AuthStep, { QByteArrayLiteral("AUTH"), m_endpoint.username().toUtf8(), m_endpoint.password().toUtf8() });
    }
    if (m_endpoint.database() != 0)
        step(SelectStep, { QByteArrayLiteral("SELECT"), QByteArray::number(m_endpoint.database()) });
    // Who the server is: one process reached under two URLs must not vote twice.
    m_handshakeServerId.clear();
    m_scriptsRefused.clear();
    step(InfoStep, { QByteArrayLiteral("INFO"), QByteArrayLiteral("server") });
    for (const RedisScript &script : std::as_const(m_startupScripts))
        step(ScriptLoadStep, { QByteArrayLiteral("SCRIPT"), QByteArrayLiteral("LOAD"), script.source() });
    if (!m_startupScripts.isEmpty()) {
        const RedisScript &probe = probeScript();
        step(ScriptLoadStep, { QByteArrayLiteral("SCRIPT"), QByteArrayLiteral("LOAD"), probe.source() });
        step(ScriptProbeStep, { QByteArrayLiteral("EVALSHA"), probe.sha1(), QByteArrayLiteral("0") });
    }
    for (Pending &p : waiting)
        m_inflight.push_back(std::move(p));

    if (m_handshakeRemaining == 0)
        finishHandshake();
    else
        armDeadlineTimer();
}

void RedisConnection::finishHandshake()
{
    if (!m_scriptsRefused.isEmpty()) {
        // Commands queued meanwhile are still in the outbox: nothing was set on this server.
        dropConnection(RedisFailure::Auth, m_scriptsRefused, true);
        return;
    }
    m_serverId = m_handshakeServerId;
    m_connectTimer.stop();
    m_reconnectAttempts = 0;
    m_lastError.clear();
    m_lastFailure = RedisFailure::None;
    setState(State::Ready);
    if (!m_outbox.isEmpty()) {
        m_device->write(m_outbox);
        m_outbox.clear();
    }
    Q_EMIT ready();
}

void RedisConnection::handleHandshakeReply(const Pending &pending, const RedisValue &value)
{
    if (value.isError()) {
        const QString text = QString::fromUtf8(value.string);
        switch (pending.handshakeStep) {
        case AuthStep:
            dropConnection(RedisFailure::Auth, QStringLiteral("authentication failed: %1").arg(text), true);
            return;
        case SelectStep:
            dropConnection(RedisFailure::Protocol,
                           QStringLiteral("SELECT %1 failed: %2").arg(m_endpoint.database()).arg(text), true);
            return;
        default:
            if (startsWith(value, "NOAUTH") || startsWith(value, "WRONGPASS")) {
                dropConnection(RedisFailure::Auth, QStringLiteral("authentication required: %1").arg(text), true);
                return;
            }
            if (pending.handshakeStep == InfoStep) {
                qCWarning(lcConnection).noquote() << describe() << "does not tell its run_id (" << text
                                                  << "): a second URL of the same server cannot be detected";
            } else if (pending.handshakeStep == ScriptProbeStep) {
                if (startsWith(value, "NOPERM")) // reported when the handshake ends, as an ACL failure
                    m_scriptsRefused = aclDenial(value.string);
                // NOSCRIPT: SCRIPT LOAD was refused; scripts then go as EVAL on demand.
            } else if (startsWith(value, "NOPERM")) {
                qCDebug(lcConnection).noquote() << describe() << "SCRIPT LOAD refused:" << aclDenial(value.string);
            } else { // a failed SCRIPT LOAD only costs a NOSCRIPT fallback later
                qCWarning(lcConnection) << describe() << "SCRIPT LOAD failed:" << text;
            }
            break;
        }
    } else if (pending.handshakeStep == InfoStep) {
        m_handshakeServerId = runIdOf(value.string);
    }
    if (m_state == State::Handshaking && --m_handshakeRemaining == 0)
        finishHandshake();
}

void RedisConnection::onReadyRead()
{
    // Replies are taken out after every chunk, so that at most MaxReplyBytes plus one chunk
    // is ever buffered, however fast the server sends.
    QPointer<RedisConnection> self(this);
    const quint64 epoch = m_epoch;
    char buffer[16384];
    while (self && epoch == m_epoch && m_device && m_reader) {
        const qint64 n = m_device->read(buffer, sizeof buffer);
        if (n <= 0)
            break;
        redisReaderFeed(m_reader, buffer, size_t(n)); // a failure is reported by processReplies()
        processReplies();
    }
}

void RedisConnection::injectIncomingForTesting(const QByteArray &bytes)
{
    if (!m_reader)
        m_reader = createGuardedReader(&m_budget);
    redisReaderFeed(m_reader, bytes.constData(), size_t(bytes.size()));
    processReplies();
}

void RedisConnection::processReplies()
{
    const quint64 epoch = m_epoch;
    QPointer<RedisConnection> self(this);
    while (self && epoch == m_epoch && m_reader) {
        void *raw = nullptr;
        const bool failed = redisReaderGetReply(m_reader, &raw) != REDIS_OK;
        const bool tooLarge = m_budget.exceeded || qsizetype(m_reader->len - m_reader->pos) > MaxReplyBytes;
        if (tooLarge) {
            if (raw)
                freeReplyObject(raw);
            dropConnection(RedisFailure::Protocol,
                           QStringLiteral("protocol error: a reply larger than %1 KiB (a lock reply is a few "
                                          "hundred bytes; is this a Redis server?)").arg(MaxReplyBytes / 1024),
                           true);
            return;
        }
        if (failed) {
            const QString message = QStringLiteral("protocol error: %1 (is this a Redis server?)")
                                            .arg(QString::fromUtf8(m_reader->errstr));
            dropConnection(RedisFailure::Protocol, message, true);
            return;
        }
        if (!raw)
            return;
        m_budget = ReplyBudget(); // the next reply starts afresh
        RedisValue value = toRedisValue(static_cast<redisReply *>(raw));
        freeReplyObject(raw);
        dispatch(std::move(value));
    }
}

void RedisConnection::dispatch(RedisValue &&value)
{
    if (m_pushHandler && value.type == RedisValue::Type::Array && value.elements.size() == 3
        && value.elements.at(0).string == "message") {
        m_pushHandler(value);
        return;
    }
    if (m_inflight.empty()) {
        dropConnection(RedisFailure::Protocol, QStringLiteral("protocol error: reply with no request pending"), true);
        return;
    }
    Pending pending = std::move(m_inflight.front());
    m_inflight.pop_front();
    if (pending.handshakeStep != NoStep) {
        handleHandshakeReply(pending, value);
        return;
    }
    if (pending.done)
        return; // timed out earlier: its callback has been told already

    if (pending.script && startsWith(value, "NOSCRIPT")) {
        // The script cache was flushed (SCRIPT FLUSH, restart, failover): send the source.
        const std::shared_ptr<ScriptCall> call = std::move(pending.script);
        QList<QByteArray> argv;
        argv.reserve(3 + call->keys.size() + call->args.size());
        argv << QByteArrayLiteral("EVAL") << call->source << QByteArray::number(call->keys.size());
        argv << call->keys << call->args;
        writeCommand(argv);
        m_inflight.push_back(std::move(pending));
        return;
    }

    RedisReply reply;
    if (startsWith(value, "NOPERM")) {
        reply.failure = RedisFailure::Auth;
        reply.errorString = QStringLiteral("%1: %2").arg(describe(), aclDenial(value.string));
    } else if (startsWith(value, "NOAUTH") || startsWith(value, "WRONGPASS")) {
        reply.failure = RedisFailure::Auth;
        reply.errorString = QStringLiteral("%1: %2").arg(describe(), QString::fromUtf8(value.string));
    } else if (value.isError()) {
        reply.errorString = QString::fromUtf8(value.string);
    }
    reply.value = std::move(value);
    pending.callback(reply);
}

void RedisConnection::onTransportError(RedisFailure failure, const QString &message)
{
    if (m_state == State::Closed)
        return;
    // A TLS verification failure is reported before the socket error that follows it.
    if (m_lastFailure == RedisFailure::Tls && failure != RedisFailure::Tls && m_state != State::Ready
        && !m_lastError.isEmpty()) {
        dropConnection(RedisFailure::Tls, m_lastError, true);
        return;
    }
    dropConnection(failure, message, true);
}

void RedisConnection::dropConnection(RedisFailure failure, const QString &reason, bool reconnect)
{
    const bool wasReady = m_state == State::Ready;
    ++m_epoch;
    m_connectTimer.stop();
    m_deadlineTimer.stop();
    if (m_device) {
        m_device->disconnect(this);
        if (auto *socket = qobject_cast<QAbstractSocket *>(m_device))
            socket->abort();
        else if (auto *local = qobject_cast<QLocalSocket *>(m_device))
            local->abort();
        m_device->deleteLater();
        m_device = nullptr;
    }
    if (m_reader) {
        redisReaderFree(m_reader);
        m_reader = nullptr;
    }
    m_outbox.clear();
    m_handshakeRemaining = 0;
    if (failure != RedisFailure::Cancelled) {
        m_lastError = reason;
        m_lastFailure = failure;
        if (wasReady || m_reconnectAttempts == 0)
            qCWarning(lcConnection).noquote() << describe() << "connection lost:" << reason;
        else
            qCDebug(lcConnection).noquote() << describe() << "reconnect failed:" << reason;
    }
    if (reconnect)
        scheduleReconnect();
    else
        setState(State::Disconnected);
    QPointer<RedisConnection> self(this);
    failAll(failure, QStringLiteral("%1: %2").arg(describe(), reason));
    if (self && wasReady && failure != RedisFailure::Cancelled)
        Q_EMIT connectionLost(reason); // an established connection, not a failed reconnect
}

void RedisConnection::failAll(RedisFailure failure, const QString &reason)
{
    std::deque<Pending> pending;
    pending.swap(m_inflight);
    RedisReply reply;
    reply.failure = failure;
    reply.errorString = reason;
    QPointer<RedisConnection> self(this);
    for (Pending &p : pending) {
        if (p.done || p.handshakeStep != NoStep || !p.callback)
            continue;
        p.callback(reply);
        if (!self)
            return;
    }
}

void RedisConnection::scheduleReconnect()
{
    setState(State::WaitingToReconnect);
    const int shift = std::min(m_reconnectAttempts, 16);
    const qint64 base = std::min<qint64>(qint64(m_options.reconnectMinMs) << shift, m_options.reconnectMaxMs);
    ++m_reconnectAttempts;
    // Full jitter on the upper half: many clients of one restarted server spread out.
    const qint64 delay = base / 2 + QRandomGenerator::global()->bounded(base / 2 + 1);
    m_reconnectTimer.start(int(delay));
}

void RedisConnection::armDeadlineTimer()
{
    qint64 earliest = LLONG_MAX;
    for (const Pending &p : m_inflight) {
        if (!p.done && p.deadlineNs < earliest)
            earliest = p.deadlineNs;
    }
    // The oldest request also when it timed out already (a later one with a shorter deadline
    // may have been told first): its deadline decides when the connection is given up.
    if (!m_inflight.empty())
        earliest = std::min(earliest, m_inflight.front().deadlineNs);
    if (earliest == LLONG_MAX) {
        m_deadlineTimer.stop();
        return;
    }
    m_armedDeadlineNs = earliest;
    const qint64 waitNs = std::max<qint64>(0, earliest - monotonicNs());
    m_deadlineTimer.start(int((waitNs + NsPerMs - 1) / NsPerMs));
}

void RedisConnection::onDeadlineTimer()
{
    // Replies that arrived while the event loop was held up (a long slot, a paused process)
    // were in time: when bytes wait to be read, the deadlines are judged after the read
    // notifier had its turn (a few passes at most, so a peer that never stops sending
    // cannot postpone them for ever).
    if (!m_inflight.empty() && monotonicNs() >= m_inflight.front().deadlineNs && m_deferredJudgements < 3
        && (m_device && (m_device->bytesAvailable() > 0 || bytesWaitingInKernel()))) {
        ++m_deferredJudgements;
        m_deadlineTimer.start(0);
        return;
    }
    m_deferredJudgements = 0;
    const qint64 now = monotonicNs();
    if (!m_inflight.empty() && now >= m_inflight.front().deadlineNs) {
        // Replies come in request order: when the oldest request has none by its deadline,
        // the server stalled or a reply was swallowed on the way. In the second case every
        // later reply would be matched to the wrong request, so the connection is given up
        // and made anew; every pending request fails with a timeout.
        const bool handshake = m_inflight.front().handshakeStep != NoStep;
        dropConnection(RedisFailure::Timeout,
                       handshake ? QStringLiteral("handshake timed out")
                                 : QStringLiteral("no reply within the deadline (the connection may be out of "
                                                  "step: reconnecting)"),
                       true);
        return;
    }
    // Collect the expired requests first: a callback may send new requests or close us.
    QList<Callback> expired;
    for (Pending &p : m_inflight) {
        if (!p.done && p.handshakeStep == NoStep && p.deadlineNs <= now) {
            p.done = true;
            p.script.reset();
            expired.append(std::move(p.callback));
            p.callback = nullptr;
        }
    }
    armDeadlineTimer();
    if (expired.isEmpty())
        return;
    RedisReply reply;
    reply.failure = RedisFailure::Timeout;
    reply.errorString = QStringLiteral("%1: no reply within the deadline").arg(describe());
    QPointer<RedisConnection> self(this);
    for (const Callback &cb : std::as_const(expired)) {
        cb(reply);
        if (!self)
            return;
    }
}

} // namespace QRedlock
