#include "qredlockqmltypes.h"

namespace QRedlockQml {

QmlLockManager::QmlLockManager(QObject *parent) : QRedlock::LockManager(parent) { }

QmlDistributedLock::QmlDistributedLock(QObject *parent) : QRedlock::DistributedLock(parent) { }

QmlSingletonJob::QmlSingletonJob(QObject *parent) : QRedlock::SingletonJob(parent) { }

} // namespace QRedlockQml
