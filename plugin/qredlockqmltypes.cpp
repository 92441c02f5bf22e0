#include "qredlockqmltypes.h"

namespace QRedlockQml {

QmlLockManager::QmlLockManager(QObject *parent) : QRedlock::LockManager(parent) { }

QmlLockManager::~QmlLockManager()
{
    for (const QPointer<QRedlock::DistributedLock> &lock : std::as_const(m_locks)) {
        if (lock && lock->manager() == this)
            lock->release();
    }
}

void QmlLockManager::track(QRedlock::DistributedLock *lock)
{
    m_locks.removeIf([lock](const QPointer<QRedlock::DistributedLock> &l) { return l.isNull() || l == lock; });
    m_locks.append(lock);
}

QmlDistributedLock::QmlDistributedLock(QObject *parent) : QRedlock::DistributedLock(parent)
{
    connect(this, &DistributedLock::managerChanged, this, [this] {
        if (auto *m = qobject_cast<QmlLockManager *>(manager()))
            m->track(this);
    });
}

QmlSingletonJob::QmlSingletonJob(QObject *parent) : QRedlock::SingletonJob(parent) { }

} // namespace QRedlockQml
