// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// A tiny synchronous Redis client for test set-up and assertions.
//
// It is deliberately independent of the QRedlock library (its own RESP encoder
// and parser), so that fixtures can check what the library wrote without
// trusting the library's own code.
//
// Reply mapping (RESP2) of command():
//   +status        -> QByteArray            ("OK", "PONG", ...)
//   $bulk          -> QByteArray
//   :integer       -> qint64
//   *array         -> QVariantList          (elements mapped the same way)
//   $-1 / *-1 nil  -> invalid QVariant      (QVariant(), isValid() == false)
//   -error         -> QString "ERR:" + the server's message, e.g.
//                     "ERR:WRONGPASS invalid username-password pair ..."
//                     (errors nested in arrays are mapped the same way)
//   client-side failure (not connected, timeout, reset, protocol violation)
//                  -> QString "ERR:io: " + description; a timeout is exactly
//                     "ERR:io: timeout".
// So a reply is an error exactly when it holds a QString; a server value is
// never a QString. Use the isError()/isIoError()/isTimeout() helpers below.

#ifndef QREDLOCKTEST_RAWREDISCLIENT_H
#define QREDLOCKTEST_RAWREDISCLIENT_H

#include <QByteArray>
#include <QDeadlineTimer>
#include <QList>
#include <QString>
#include <QVariant>

#include <functional>
#include <memory>

QT_BEGIN_NAMESPACE
class QIODevice;
QT_END_NAMESPACE

namespace QRedlockTest {

// True for any error reply (server error or client-side failure).
bool isError(const QVariant &reply);
// True for a client-side failure (no reply from the server at all).
bool isIoError(const QVariant &reply);
// True when the client gave up waiting.
bool isTimeout(const QVariant &reply);
// The error text without the "ERR:" prefix; empty when the reply is no error.
QString errorMessage(const QVariant &reply);

// RESP encoding of one command, as a server expects it.
QByteArray encodeCommand(const QList<QByteArray> &args);

class RawRedisClient
{
public:
    // How the client waits for the network.
    enum class WaitMode {
        // Blocking waitFor*() calls: no events of the calling thread run while
        // waiting. Right for talking to a redis-server process directly.
        Blocking,
        // Runs a local QEventLoop while waiting, so that objects of the same
        // thread (a FaultProxy in front of the server, the code under test)
        // keep working. Beware: other slots of the test may run re-entrantly,
        // as with QTest::qWait().
        EventLoop,
    };

    RawRedisClient();
    ~RawRedisClient();
    RawRedisClient(const RawRedisClient &) = delete;
    RawRedisClient &operator=(const RawRedisClient &) = delete;

    void setWaitMode(WaitMode mode);
    WaitMode waitMode() const;

    // Use TLS on the next connectToHost(); the server is verified against
    // caFile only. certFile/keyFile (PEM, RSA key) give a client certificate.
    void setTls(const QString &caFile, const QString &certFile = {},
                const QString &keyFile = {});
    // Send AUTH right after connecting when password is not empty
    // ("AUTH pass" or, with a user, "AUTH user pass"). A rejected AUTH makes
    // the connect fail and errorString() holds the server's error.
    void setAuth(const QString &user, const QString &password);

    bool connectToHost(const QString &host, quint16 port, int timeoutMs = 5000);
    bool connectToUnix(const QString &path, int timeoutMs = 5000);
    bool isConnected() const;
    // Closes the connection at once (FIN; RST if anything was still pending).
    void disconnectFromServer();
    // Why the last connect or command failed, as a reply: "ERR:io: timeout",
    // "ERR:io: connect failed: …", or the server's own error when it rejected
    // AUTH (e.g. "ERR:WRONGPASS …"). errorString() is the same text without
    // the "ERR:" prefix.
    QVariant lastError() const;
    QString errorString() const;

    // Sends one command and waits for its reply; see the mapping at the top.
    // After a client-side failure the connection is closed (it could be out of
    // step with the server), so later commands fail until the next connect.
    QVariant command(const QList<QByteArray> &args, int timeoutMs = 5000);

private:
    bool finishConnect(QDeadlineTimer deadline);
    bool waitFor(const std::function<bool()> &done, QDeadlineTimer deadline);
    bool waitBlocking(QDeadlineTimer deadline);
    QVariant fail(const QString &why);

    WaitMode m_waitMode = WaitMode::Blocking;
    bool m_tls = false;
    QString m_caFile, m_certFile, m_keyFile;
    QString m_user, m_password;
    QString m_lastError; // "ERR:…", see lastError()
    std::unique_ptr<QIODevice> m_device;
    QByteArray m_buffer; // bytes received but not parsed yet
};

} // namespace QRedlockTest

#endif // QREDLOCKTEST_RAWREDISCLIENT_H
