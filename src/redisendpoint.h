// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// RedisEndpoint: where one Redis server is and how to talk to it.
#pragma once

#include "qredlock_export.h"

#include <QtCore/QMetaType>
#include <QtCore/QSharedDataPointer>
#include <QtCore/QString>

namespace QRedlock {

class RedisEndpointData;

/*!
    A value type describing one Redis server, parsed from a URL:

    - `redis://[user[:password]@]host[:port][/db]` — plain TCP (default port 6379)
    - `rediss://[user[:password]@]host[:port][/db][?ca=FILE&cert=FILE&key=FILE&verify=0|1&sni=NAME]`
      — TLS; the peer is verified by default (against `ca`, or the system store)
    - `unix:///path/to/redis.sock[?db=N&password=P&user=U]` — a Unix domain socket

    A URL with only a password uses an empty user: `redis://:secret@host`. IPv6 hosts are
    written in brackets: `redis://[::1]:6380`. Percent-encoding is decoded in the user and
    password. An invalid endpoint says why in errorString(), naming the offending part.

    toString() never shows the password (it prints `***` in its place); nor does any log.
*/
class QREDLOCK_EXPORT RedisEndpoint
{
public:
    enum class Transport { Tcp, Tls, Unix };

    RedisEndpoint();
    RedisEndpoint(const RedisEndpoint &other);
    RedisEndpoint(RedisEndpoint &&other) noexcept;
    RedisEndpoint &operator=(const RedisEndpoint &other);
    RedisEndpoint &operator=(RedisEndpoint &&other) noexcept;
    ~RedisEndpoint();

    static RedisEndpoint fromString(const QString &url);

    bool isValid() const;
    QString errorString() const;

    Transport transport() const;
    bool isTls() const;
    bool isUnixSocket() const;

    QString host() const;        //!< empty for unix://
    quint16 port() const;        //!< 0 for unix://
    QString socketPath() const;  //!< unix:// only
    int database() const;        //!< 0 unless given
    QString username() const;    //!< empty: the default user
    QString password() const;    //!< empty: no AUTH
    bool hasPassword() const;

    //! TLS options (rediss:// only)
    QString caFile() const;
    QString certFile() const;
    QString keyFile() const;
    bool verifyPeer() const;     //!< true unless ?verify=0
    QString serverName() const;  //!< SNI / name checked in the certificate; defaults to host()

    //! The URL again, with the password replaced by "***".
    QString toString() const;

    //! A key that is equal for two endpoints that reach the same server process,
    //! however they are spelled (localhost vs 127.0.0.1, default port, trailing slash...).
    //! Used to refuse duplicates, which would fake a quorum.
    QString serverIdentity() const;

    friend QREDLOCK_EXPORT bool operator==(const RedisEndpoint &a, const RedisEndpoint &b);
    friend inline bool operator!=(const RedisEndpoint &a, const RedisEndpoint &b) { return !(a == b); }

private:
    QSharedDataPointer<RedisEndpointData> d;
};

} // namespace QRedlock

Q_DECLARE_METATYPE(QRedlock::RedisEndpoint)
