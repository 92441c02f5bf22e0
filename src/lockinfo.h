// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// LockInfo: what the servers said about one lock: who holds it, for how long, and each
// server's own view. Made by LockManager::inspect() and LockManager::forceRelease().
#pragma once

#include "qredlock_export.h"

#include <QtCore/QByteArray>
#include <QtCore/QMetaType>
#include <QtCore/QObject>
#include <QtCore/QSharedDataPointer>
#include <QtCore/QString>
#include <QtCore/QVariantList>

namespace QRedlock {

class LockInfoData;

/*!
    A value type (implicitly shared) describing the state of one lock on a LockManager's
    servers at the moment they answered. All of it is readable from QML as properties.

    state():
    - Held: one token is on a quorum of servers; holder(), token(), remainingTtl() describe it.
    - Free: no token can be on a quorum (the servers that answered have no key, or too few
      of them have one).
    - Split: keys are there, but no token is on a quorum and enough servers answered to say so
      (an acquisition under way, or the leftovers of a failed one).
    - Unknown: too few servers gave a usable answer to tell; errorString() says why.
*/
class QREDLOCK_EXPORT LockInfo
{
    Q_GADGET
    Q_PROPERTY(State state READ state)
    Q_PROPERTY(QString resource READ resource)
    Q_PROPERTY(QString holder READ holder)
    Q_PROPERTY(QByteArray token READ token)
    Q_PROPERTY(int remainingTtl READ remainingTtl)
    Q_PROPERTY(qint64 fencingCounter READ fencingCounter)
    Q_PROPERTY(int holderServers READ holderServers)
    Q_PROPERTY(int answeredServers READ answeredServers)
    Q_PROPERTY(QVariantList servers READ servers)
    Q_PROPERTY(QString errorString READ errorString)

public:
    enum class State { Free, Held, Split, Unknown };
    Q_ENUM(State)

    LockInfo();
    LockInfo(const LockInfo &other);
    LockInfo &operator=(const LockInfo &other);
    ~LockInfo();

    State state() const;
    QString resource() const;
    //! The identity carried in the holder's token (LockManager::holderIdentity of the client
    //! that took it); empty for a token of another Redlock client, or when not Held.
    QString holder() const;
    //! The whole value stored under the key by the holder (empty unless Held).
    QByteArray token() const;
    //! ms: the smallest PTTL among the servers that hold token(); -1 unless Held.
    int remainingTtl() const;
    //! The highest fencing counter any server reported for the resource; -1 when none.
    qint64 fencingCounter() const;
    int holderServers() const;   //!< how many servers hold token()
    int answeredServers() const; //!< how many gave a usable answer

    //! One map per server: url (no password), answered (bool), exists (bool), token (string),
    //! holder (string), pttl (ms; -1 no expiry, -2 no key), fencingCounter (-1 none),
    //! error (string), failure ("", "unreachable", "auth", "protocol") and, after
    //! forceRelease(), removed (bool), removedToken (string: what was there) and, where the
    //! release got no usable answer, releaseError and releaseFailure (as error / failure).
    QVariantList servers() const;
    QString errorString() const;

private:
    friend class LockInspectionPrivate;
    QSharedDataPointer<LockInfoData> d;
};

} // namespace QRedlock

Q_DECLARE_METATYPE(QRedlock::LockInfo)
