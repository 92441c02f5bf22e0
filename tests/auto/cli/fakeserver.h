// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// A server of the test's own for the tool's end-to-end tests (see FakeServer below).
#pragma once

#include <QTcpServer>
#include <QTcpSocket>

namespace QRedlockCliTest {

// A server of the test's own on a loopback port: greets every connection with `greeting`,
// and answers every command (a line starting with '*', which is crude but enough for the
// tool's requests) with `reply`. Needs this thread's event loop: see finishServing().
class FakeServer : public QTcpServer
{
public:
    FakeServer(const QByteArray &greeting, const QByteArray &reply)
    {
        connect(this, &QTcpServer::newConnection, this, [this, greeting, reply] {
            while (QTcpSocket *socket = nextPendingConnection()) {
                socket->setParent(this);
                socket->write(greeting);
                connect(socket, &QTcpSocket::readyRead, socket, [socket, reply] {
                    const QByteArray in = socket->readAll();
                    const qsizetype commands = in.count("\r\n*") + (in.startsWith('*') ? 1 : 0);
                    for (qsizetype i = 0; i < commands && !reply.isEmpty(); ++i)
                        socket->write(reply);
                });
            }
        });
    }
    QString url() const { return QStringLiteral("redis://127.0.0.1:%1").arg(serverPort()); }
};

} // namespace QRedlockCliTest
