// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Owned values of RESP2 replies. No hiredis type escapes redisconnection.cpp.
#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QList>
#include <QtCore/QString>

namespace QRedlock {

struct RedisValue
{
    enum class Type : quint8 { Nil, Status, Error, Integer, String, Array };

    Type type = Type::Nil;
    qint64 integer = 0;
    QByteArray string;          // Status, Error and String payloads
    QList<RedisValue> elements; // Array

    bool isNil() const { return type == Type::Nil; }
    bool isError() const { return type == Type::Error; }
    bool isStatus(const char *text) const { return type == Type::Status && string == text; }
    bool isInteger(qint64 v) const { return type == Type::Integer && integer == v; }
};

// How a request ended when it did not get a reply from the server.
enum class RedisFailure : quint8 {
    None,          // a reply arrived (possibly a Redis error reply: see RedisValue::Type::Error)
    Timeout,       // no reply within the request's deadline
    Connect,       // could not connect (refused, unreachable, DNS, connect timeout)
    Disconnected,  // the connection dropped while the request was pending
    Protocol,      // the peer sent bytes that are not RESP
    Auth,          // AUTH failed (wrong password / unknown user / NOAUTH)
    Tls,           // TLS handshake or certificate verification failed
    Cancelled      // the connection was closed by its owner
};

struct RedisReply
{
    RedisFailure failure = RedisFailure::None;
    QString errorString;   // set when failure != None, or the server's error text
    RedisValue value;

    bool ok() const { return failure == RedisFailure::None; }
};

} // namespace QRedlock
