// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// LockInspection: one inspection (or forced release) of a lock, as a job object.
#pragma once

#include "lockinfo.h"
#include "qredlock_export.h"

#include <QtCore/QObject>

#include <memory>

namespace QRedlock {

class LockInspectionPrivate;
class LockManager;
class LockManagerPrivate;

/*!
    The answer to LockManager::inspect() or LockManager::forceRelease(), in the style of a
    job: keep the pointer, connect to finished(), then read info(). It never finishes
    synchronously (not even without servers): finished() comes through the event loop, once,
    after every server answered or timed out. Unless setAutoDelete(false) was called, the
    object deletes itself (deleteLater()) after finished().
*/
class QREDLOCK_EXPORT LockInspection : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QRedlock::LockInfo info READ info NOTIFY finished)
    Q_PROPERTY(bool autoDelete READ autoDelete WRITE setAutoDelete NOTIFY autoDeleteChanged)

public:
    ~LockInspection() override;

    //! What the servers said; a default LockInfo (state Unknown) until finished().
    LockInfo info() const;
    bool isFinished() const;

    bool autoDelete() const; //!< default true
    void setAutoDelete(bool on);

Q_SIGNALS:
    void finished();
    void autoDeleteChanged();

private:
    explicit LockInspection(QObject *parent);
    friend class LockManager;
    friend class LockManagerPrivate;
    friend class LockInspectionPrivate;
    std::unique_ptr<LockInspectionPrivate> d;
};

} // namespace QRedlock
