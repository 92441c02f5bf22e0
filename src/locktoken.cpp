// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The lock token, one rule in one place: 160 random bits in lowercase hex, then '-' and the
// holder's identity percent-encoded (cut to fit 255 bytes), and how inspection reads the
// holder back. LockManagerPrivate's part; the rest of the class is in lockmanager.cpp.
#include "lockmanager_p.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSysInfo>

namespace QRedlock {

QString LockManagerPrivate::describeHolder(const QByteArray &token)
{
    const QString identity = holderOf(token);
    const QString shortToken = QString::fromLatin1(token.left(8)) + QStringLiteral("...");
    return identity.isEmpty() ? QStringLiteral("another client (token %1)").arg(shortToken)
                              : QStringLiteral("%1 (token %2)").arg(identity, shortToken);
}

QString LockManagerPrivate::effectiveHolderIdentity() const
{
    if (holderIdentitySet)
        return holderIdentity;
    // The host name and the pid are read once per manager (two system calls that every token
    // paid for); the application name is followed as it changes.
    if (defaultIdentityHost.isEmpty()) {
        defaultIdentityHost = QSysInfo::machineHostName() + u'/'
                + QString::number(QCoreApplication::applicationPid());
    }
    const QString app = QCoreApplication::applicationName();
    return app.isEmpty() ? defaultIdentityHost : defaultIdentityHost + u'/' + app;
}

namespace {
constexpr int TokenRandomBytes = 20;    // 160 bits
constexpr int TokenHexDigits = 2 * TokenRandomBytes;
constexpr int TokenMaxBytes = 255;
}

QByteArray LockManagerPrivate::encodeIdentity(const QString &identity)
{
    // Percent-encoded character by character, so that a long identity is cut between two
    // characters (never inside an escape or a UTF-8 sequence).
    const qsizetype room = TokenMaxBytes - TokenHexDigits - 1;
    QByteArray encoded;
    for (qsizetype i = 0; i < identity.size();) {
        const qsizetype n = identity.at(i).isHighSurrogate() && i + 1 < identity.size() ? 2 : 1;
        const QByteArray piece = identity.mid(i, n).toUtf8().toPercentEncoding("/:@");
        if (encoded.size() + piece.size() > room)
            break;
        encoded += piece;
        i += n;
    }
    return encoded;
}

QByteArray LockManagerPrivate::newToken() const
{
    quint32 words[TokenRandomBytes / 4];
    QRandomGenerator::system()->fillRange(words);
    QByteArray token = QByteArray(reinterpret_cast<const char *>(words), TokenRandomBytes).toHex();
    const QString identity = effectiveHolderIdentity();
    if (identity != encodedIdentityOf) { // encoded once per identity, not once per token
        encodedIdentityOf = identity;
        encodedIdentity = encodeIdentity(identity);
    }
    const QByteArray &encoded = encodedIdentity;
    return encoded.isEmpty() ? token : token + '-' + encoded;
}

QString LockManagerPrivate::holderOf(const QByteArray &token)
{
    if (token.size() <= TokenHexDigits + 1 || token.at(TokenHexDigits) != '-')
        return QString();
    for (int i = 0; i < TokenHexDigits; ++i) {
        const char c = token.at(i);
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return QString();
    }
    return QString::fromUtf8(QByteArray::fromPercentEncoding(token.mid(TokenHexDigits + 1)));
}

} // namespace QRedlock
