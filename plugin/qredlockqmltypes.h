// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// QML registrations of the QRedlock types (module QRedlock 1.0). The library itself has no
// QML dependency: its classes are registered as foreign types (for their properties, enums
// and signals), and QML creates thin subclasses under the same names: DistributedLock and
// SingletonJob add QQmlParserStatus, so that `active: true` takes effect only once the whole
// component is complete; LockManager releases its locks before its connections close.
#pragma once

#include <distributedlock.h>
#include <lockinfo.h>
#include <lockinspection.h>
#include <lockmanager.h>
#include <singletonjob.h>

#include <QtCore/QPointer>
#include <QtQml/QQmlParserStatus>
#include <QtQml/qqml.h>

namespace QRedlockQml {

// The library classes themselves, for their properties, enums and signals. QML creates the
// subclasses below under the same names.
struct LockManagerForeign
{
    Q_GADGET
    QML_FOREIGN(QRedlock::LockManager)
    QML_ANONYMOUS
};

struct DistributedLockForeign
{
    Q_GADGET
    QML_FOREIGN(QRedlock::DistributedLock)
    QML_ANONYMOUS
};

// What LockManager.inspect() / forceRelease() return: a job with finished() and info.
struct LockInspectionForeign
{
    Q_GADGET
    QML_FOREIGN(QRedlock::LockInspection)
    QML_ANONYMOUS
};

// The value type of LockInspection.info: state, holder, token, remainingTtl, ...
struct LockInfoForeign
{
    Q_GADGET
    QML_FOREIGN(QRedlock::LockInfo)
    QML_VALUE_TYPE(lockInfo)
};

struct SingletonJobForeign
{
    Q_GADGET
    QML_FOREIGN(QRedlock::SingletonJob)
    QML_ANONYMOUS
};

// Holds a declarative `active` value back until componentComplete(): a lock or job created
// by an asynchronous incubator could otherwise start before its other properties are set.
// T is DistributedLock or SingletonJob (isActive(), setActive(), activeChanged()).
class ActiveLatch
{
public:
    void begin() { m_declaring = true; }

    template <typename T>
    bool read(const T *object) const
    {
        return m_declaring ? m_pending : object->isActive();
    }

    template <typename T>
    void write(T *object, bool on)
    {
        if (!m_declaring) {
            object->setActive(on);
        } else if (m_pending != on) {
            m_pending = on;
            Q_EMIT object->activeChanged();
        }
    }

    template <typename T>
    void complete(T *object)
    {
        m_declaring = false;
        if (m_pending)
            object->setActive(true);  // takes effect in the next event-loop turn
    }

private:
    bool m_declaring = false;
    bool m_pending = false;
};

// A QML tree dies object by object, in an order the author hardly controls. A manager that
// goes before the locks that use it releases them first (the library does that for C++ and
// QML alike, while its connections still exist).
class QmlLockManager : public QRedlock::LockManager
{
    Q_OBJECT
    QML_NAMED_ELEMENT(LockManager)

public:
    explicit QmlLockManager(QObject *parent = nullptr);
};

// fencingToken is a qint64 in C++, a type QML tooling (qmllint, qmlsc) of Qt 6.4 does not
// know: QML sees it as a number (double), exact up to 2^53, far beyond any counter a
// server reaches. The C++ property and fencingToken() are unchanged.
class QmlDistributedLock : public QRedlock::DistributedLock,
                           public QQmlParserStatus
{
    Q_OBJECT
    Q_INTERFACES(QQmlParserStatus)
    QML_NAMED_ELEMENT(DistributedLock)
    Q_PROPERTY(bool active READ qmlActive WRITE setQmlActive NOTIFY activeChanged)
    Q_PROPERTY(double fencingToken READ qmlFencingToken NOTIFY fencingTokenChanged)

public:
    explicit QmlDistributedLock(QObject *parent = nullptr);

    bool qmlActive() const { return m_active.read(this); }
    void setQmlActive(bool on) { m_active.write(this, on); }
    double qmlFencingToken() const { return double(fencingToken()); }

    void classBegin() override { m_active.begin(); }
    void componentComplete() override { m_active.complete(this); }

private:
    ActiveLatch m_active;
};

// The job's durations are qint64 ms in C++; QML 6.4 cannot assign a literal to a qint64
// property ("unsupported type qlonglong"), so QML sees them as numbers (double: exact up to
// 2^53 ms). A value that is not a whole number of ms is rounded; NaN is refused like a
// negative value.
class QmlSingletonJob : public QRedlock::SingletonJob,
                        public QQmlParserStatus
{
    Q_OBJECT
    Q_INTERFACES(QQmlParserStatus)
    QML_NAMED_ELEMENT(SingletonJob)
    Q_PROPERTY(bool active READ qmlActive WRITE setQmlActive NOTIFY activeChanged)
    Q_PROPERTY(double interval READ qmlInterval WRITE setQmlInterval NOTIFY intervalChanged)
    Q_PROPERTY(double oncePerPeriod READ qmlOncePerPeriod WRITE setQmlOncePerPeriod NOTIFY oncePerPeriodChanged)
    Q_PROPERTY(double lockAtMostFor READ qmlLockAtMostFor WRITE setQmlLockAtMostFor NOTIFY lockAtMostForChanged)
    Q_PROPERTY(double lockAtLeastFor READ qmlLockAtLeastFor WRITE setQmlLockAtLeastFor NOTIFY lockAtLeastForChanged)
    Q_PROPERTY(double misfireGrace READ qmlMisfireGrace WRITE setQmlMisfireGrace NOTIFY misfireGraceChanged)

public:
    explicit QmlSingletonJob(QObject *parent = nullptr);

    bool qmlActive() const { return m_active.read(this); }
    void setQmlActive(bool on) { m_active.write(this, on); }

    double qmlInterval() const { return double(interval()); }
    void setQmlInterval(double ms) { setInterval(toMs(ms)); }
    double qmlOncePerPeriod() const { return double(oncePerPeriod()); }
    void setQmlOncePerPeriod(double ms) { setOncePerPeriod(toMs(ms)); }
    double qmlLockAtMostFor() const { return double(lockAtMostFor()); }
    void setQmlLockAtMostFor(double ms) { setLockAtMostFor(toMs(ms)); }
    double qmlLockAtLeastFor() const { return double(lockAtLeastFor()); }
    void setQmlLockAtLeastFor(double ms) { setLockAtLeastFor(toMs(ms)); }
    double qmlMisfireGrace() const { return double(misfireGrace()); }
    void setQmlMisfireGrace(double ms) { setMisfireGrace(toMs(ms)); }

    void classBegin() override { m_active.begin(); }
    void componentComplete() override { m_active.complete(this); }

private:
    static qint64 toMs(double ms);
    ActiveLatch m_active;
};

} // namespace QRedlockQml
