// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "rawredisclient.h"

#include <QEventLoop>
#include <QFile>
#include <QLocalSocket>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimer>

#include <optional>

namespace QRedlockTest {

namespace {

const QString errorPrefix = QStringLiteral("ERR:");
const QString ioPrefix = QStringLiteral("ERR:io: ");

QString ioError(const QString &why)
{
    return ioPrefix + why;
}

// ---- RESP2 parser -------------------------------------------------------

enum class Parse { Complete, Incomplete, Invalid };

// Parses one reply starting at pos. On Complete, pos is moved past it.
Parse parseReply(const QByteArray &buf, qsizetype &pos, QVariant &out)
{
    if (pos >= buf.size())
        return Parse::Incomplete;
    const char type = buf.at(pos);
    const qsizetype end = buf.indexOf("\r\n", pos + 1); // end of the header line
    if (end < 0)
        return Parse::Incomplete;
    const QByteArray line = buf.mid(pos + 1, end - pos - 1);
    qsizetype next = end + 2;

    switch (type) {
    case '+':
        out = line;
        break;
    case '-':
        out = QString(errorPrefix + QString::fromUtf8(line));
        break;
    case ':': {
        bool ok = false;
        const qint64 value = line.toLongLong(&ok);
        if (!ok)
            return Parse::Invalid;
        out = value;
        break;
    }
    case '$': {
        bool ok = false;
        const qint64 length = line.toLongLong(&ok);
        if (!ok || length < -1)
            return Parse::Invalid;
        if (length == -1) {
            out = QVariant();
            break;
        }
        if (buf.size() < next + length + 2)
            return Parse::Incomplete;
        if (buf.mid(next + length, 2) != QByteArrayLiteral("\r\n"))
            return Parse::Invalid;
        out = buf.mid(next, length);
        next += length + 2;
        break;
    }
    case '*': {
        bool ok = false;
        const qint64 count = line.toLongLong(&ok);
        if (!ok || count < -1)
            return Parse::Invalid;
        if (count == -1) {
            out = QVariant();
            break;
        }
        QVariantList items;
        items.reserve(count);
        for (qint64 i = 0; i < count; ++i) {
            QVariant item;
            const Parse result = parseReply(buf, next, item);
            if (result != Parse::Complete)
                return result;
            items.append(item);
        }
        out = items;
        break;
    }
    default:
        return Parse::Invalid;
    }
    pos = next;
    return Parse::Complete;
}

// ---- socket helpers -----------------------------------------------------
// The device is a QTcpSocket, a QSslSocket or a QLocalSocket; these helpers
// hide the differences that QIODevice does not cover.

bool isUnconnected(QIODevice *device)
{
    if (auto *socket = qobject_cast<QAbstractSocket *>(device))
        return socket->state() == QAbstractSocket::UnconnectedState;
    if (auto *socket = qobject_cast<QLocalSocket *>(device))
        return socket->state() == QLocalSocket::UnconnectedState;
    return true;
}

// Connected, and for TLS also past the handshake.
bool isReady(QIODevice *device)
{
    if (auto *socket = qobject_cast<QSslSocket *>(device))
        return socket->isEncrypted();
    if (auto *socket = qobject_cast<QAbstractSocket *>(device))
        return socket->state() == QAbstractSocket::ConnectedState;
    if (auto *socket = qobject_cast<QLocalSocket *>(device))
        return socket->state() == QLocalSocket::ConnectedState;
    return false;
}

void abortDevice(QIODevice *device)
{
    if (auto *socket = qobject_cast<QAbstractSocket *>(device))
        socket->abort();
    else if (auto *socket = qobject_cast<QLocalSocket *>(device))
        socket->abort();
}

QString readFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QString::fromUtf8(file.readAll());
}

} // namespace

bool isError(const QVariant &reply)
{
    return reply.typeId() == QMetaType::QString;
}

bool isIoError(const QVariant &reply)
{
    return isError(reply) && reply.toString().startsWith(ioPrefix);
}

bool isTimeout(const QVariant &reply)
{
    return isError(reply) && reply.toString() == ioError(QStringLiteral("timeout"));
}

QString errorMessage(const QVariant &reply)
{
    return isError(reply) ? reply.toString().mid(errorPrefix.size()) : QString();
}

QByteArray encodeCommand(const QList<QByteArray> &args)
{
    QByteArray out = '*' + QByteArray::number(args.size()) + "\r\n";
    for (const QByteArray &arg : args)
        out += '$' + QByteArray::number(arg.size()) + "\r\n" + arg + "\r\n";
    return out;
}

RawRedisClient::RawRedisClient() = default;

RawRedisClient::~RawRedisClient()
{
    if (m_device)
        abortDevice(m_device.get());
}

void RawRedisClient::setWaitMode(WaitMode mode)
{
    m_waitMode = mode;
}

RawRedisClient::WaitMode RawRedisClient::waitMode() const
{
    return m_waitMode;
}

void RawRedisClient::setTls(const QString &caFile, const QString &certFile, const QString &keyFile)
{
    m_tls = true;
    m_caFile = caFile;
    m_certFile = certFile;
    m_keyFile = keyFile;
}

void RawRedisClient::setAuth(const QString &user, const QString &password)
{
    m_user = user;
    m_password = password;
}

bool RawRedisClient::connectToHost(const QString &host, quint16 port, int timeoutMs)
{
    disconnectFromServer();
    const QDeadlineTimer deadline(timeoutMs);
    if (!m_tls) {
        auto socket = std::make_unique<QTcpSocket>();
        socket->connectToHost(host, port);
        m_device = std::move(socket);
        return finishConnect(deadline);
    }

    auto socket = std::make_unique<QSslSocket>();
    QSslConfiguration config = QSslConfiguration::defaultConfiguration();
    config.setCaCertificates(QSslCertificate::fromPath(m_caFile));
    config.setPeerVerifyMode(QSslSocket::VerifyPeer);
    if (!m_certFile.isEmpty()) {
        const QList<QSslCertificate> certs = QSslCertificate::fromPath(m_certFile);
        if (!certs.isEmpty())
            config.setLocalCertificate(certs.first());
        config.setPrivateKey(QSslKey(readFile(m_keyFile).toUtf8(), QSsl::Rsa));
    }
    socket->setSslConfiguration(config);
    socket->connectToHostEncrypted(host, port);
    m_device = std::move(socket);
    return finishConnect(deadline);
}

bool RawRedisClient::connectToUnix(const QString &path, int timeoutMs)
{
    disconnectFromServer();
    auto socket = std::make_unique<QLocalSocket>();
    socket->connectToServer(path);
    m_device = std::move(socket);
    return finishConnect(QDeadlineTimer(timeoutMs));
}

bool RawRedisClient::finishConnect(QDeadlineTimer deadline)
{
    QIODevice *device = m_device.get();
    if (!waitFor([device] { return isReady(device); }, deadline)) {
        fail(deadline.hasExpired() && !isUnconnected(device)
                     ? QStringLiteral("timeout")
                     : QString(QStringLiteral("connect failed: ") + device->errorString()));
        return false;
    }
    if (auto *socket = qobject_cast<QAbstractSocket *>(device))
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    m_buffer.clear();

    if (m_password.isEmpty())
        return true;
    QList<QByteArray> auth{QByteArrayLiteral("AUTH")};
    if (!m_user.isEmpty())
        auth.append(m_user.toUtf8());
    auth.append(m_password.toUtf8());
    const QVariant reply = command(auth, int(qMax<qint64>(1, deadline.remainingTime())));
    if (isError(reply)) {
        // An I/O failure was recorded by fail() already; keep a server error.
        m_lastError = reply.toString();
        disconnectFromServer();
        return false;
    }
    return true;
}

bool RawRedisClient::isConnected() const
{
    return m_device && isReady(m_device.get());
}

void RawRedisClient::disconnectFromServer()
{
    if (!m_device)
        return;
    if (auto *socket = qobject_cast<QAbstractSocket *>(m_device.get())) {
        socket->disconnectFromHost();
        if (socket->state() != QAbstractSocket::UnconnectedState)
            socket->abort();
    } else if (auto *socket = qobject_cast<QLocalSocket *>(m_device.get())) {
        socket->disconnectFromServer();
        if (socket->state() != QLocalSocket::UnconnectedState)
            socket->abort();
    }
    m_device.reset();
    m_buffer.clear();
}

QVariant RawRedisClient::lastError() const
{
    return m_lastError;
}

QString RawRedisClient::errorString() const
{
    return errorMessage(m_lastError);
}

QVariant RawRedisClient::fail(const QString &why)
{
    m_lastError = ioError(why);
    if (m_device) {
        abortDevice(m_device.get());
        m_device.reset();
    }
    m_buffer.clear();
    return m_lastError;
}

QVariant RawRedisClient::command(const QList<QByteArray> &args, int timeoutMs)
{
    if (!isConnected())
        return fail(QStringLiteral("not connected"));
    const QDeadlineTimer deadline(timeoutMs);
    m_device->write(encodeCommand(args));

    QVariant reply;
    Parse state = Parse::Incomplete;
    QIODevice *device = m_device.get();
    const auto complete = [&] {
        if (!device->isOpen())
            return false; // closed by an error: waitFor() sees the disconnect and gives up
        m_buffer += device->readAll();
        qsizetype pos = 0;
        state = parseReply(m_buffer, pos, reply);
        if (state == Parse::Complete)
            m_buffer.remove(0, pos);
        return state != Parse::Incomplete;
    };
    if (!waitFor(complete, deadline)) {
        if (deadline.hasExpired())
            return fail(QStringLiteral("timeout"));
        return fail(QStringLiteral("connection lost: ") + device->errorString());
    }
    if (state == Parse::Invalid)
        return fail(QStringLiteral("protocol error in reply"));
    return reply;
}

// Waits until done() is true, the deadline passed, or the connection is gone.
// done() is always checked first, so data that arrived before a close counts.
bool RawRedisClient::waitFor(const std::function<bool()> &done, QDeadlineTimer deadline)
{
    QIODevice *device = m_device.get();
    for (;;) {
        if (done())
            return true;
        if (deadline.hasExpired() || isUnconnected(device))
            return false;
        if (m_waitMode == WaitMode::Blocking) {
            waitBlocking(deadline);
            continue;
        }
        // Event-loop wait: wake on anything that may change done() or the
        // connection's state, or at the deadline.
        QEventLoop loop;
        QTimer timer;
        timer.setSingleShot(true);
        QObject::connect(&timer, &QTimer::timeout, &loop, &QEventLoop::quit);
        QObject::connect(device, &QIODevice::readyRead, &loop, &QEventLoop::quit);
        if (auto *socket = qobject_cast<QSslSocket *>(device))
            QObject::connect(socket, &QSslSocket::encrypted, &loop, &QEventLoop::quit);
        if (auto *socket = qobject_cast<QAbstractSocket *>(device))
            QObject::connect(socket, &QAbstractSocket::stateChanged, &loop, &QEventLoop::quit);
        if (auto *socket = qobject_cast<QLocalSocket *>(device))
            QObject::connect(socket, &QLocalSocket::stateChanged, &loop, &QEventLoop::quit);
        timer.start(int(qMax<qint64>(0, deadline.remainingTime())));
        loop.exec();
    }
}

// One blocking wait step, chosen by what the device is waiting for.
bool RawRedisClient::waitBlocking(QDeadlineTimer deadline)
{
    const int ms = int(qMax<qint64>(0, deadline.remainingTime()));
    if (auto *socket = qobject_cast<QSslSocket *>(m_device.get())) {
        if (!socket->isEncrypted())
            return socket->waitForEncrypted(ms);
        return socket->waitForReadyRead(ms);
    }
    if (auto *socket = qobject_cast<QAbstractSocket *>(m_device.get())) {
        if (socket->state() != QAbstractSocket::ConnectedState)
            return socket->waitForConnected(ms);
        return socket->waitForReadyRead(ms);
    }
    if (auto *socket = qobject_cast<QLocalSocket *>(m_device.get())) {
        if (socket->state() != QLocalSocket::ConnectedState)
            return socket->waitForConnected(ms);
        return socket->waitForReadyRead(ms);
    }
    return false;
}

} // namespace QRedlockTest
