// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "locktimer_p.h"

#include "redisconnection_p.h" // monotonicNs()

#include <QtCore/QThreadStorage>

#include <algorithm>

namespace QRedlock {

namespace {
constexpr qint64 NsPerMs = 1000000;
// Coarse timers due within this much of a firing go in the same batch.
constexpr qint64 CoarseSlackNs = 5 * NsPerMs;
}

LockTimerQueue *LockTimerQueue::forThisThread()
{
    static QThreadStorage<LockTimerQueue *> queues; // deleted at thread exit / app end
    if (!queues.hasLocalData())
        queues.setLocalData(new LockTimerQueue);
    return queues.localData();
}

LockTimerQueue::LockTimerQueue()
{
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    QObject::connect(&m_timer, &QTimer::timeout, this, [this] { fire(); });
}

LockTimerQueue::~LockTimerQueue()
{
    for (auto &entry : m_entries)
        entry.second->m_queued = false;
}

void LockTimerQueue::add(LockTimer *timer, qint64 dueNs)
{
    timer->m_entry = m_entries.emplace(dueNs, timer);
    timer->m_queued = true;
    if (!m_timer.isActive() || dueNs < m_armedNs)
        arm();
}

void LockTimerQueue::remove(LockTimer *timer)
{
    m_entries.erase(timer->m_entry);
    timer->m_queued = false; // the QTimer may wake up for nothing once; it then re-arms
}

void LockTimerQueue::arm()
{
    if (m_entries.empty()) {
        m_timer.stop();
        return;
    }
    m_armedNs = m_entries.begin()->first;
    const qint64 waitNs = std::max<qint64>(0, m_armedNs - monotonicNs());
    m_timer.start(int((waitNs + NsPerMs - 1) / NsPerMs));
}

void LockTimerQueue::fire()
{
    const qint64 now = monotonicNs();
    auto it = m_entries.begin();
    while (it != m_entries.end() && it->first <= now + CoarseSlackNs) {
        LockTimer *t = it->second;
        if (it->first > now && !t->m_coarse) {
            ++it;
            continue;
        }
        m_entries.erase(it);
        t->m_queued = false;
        const std::function<void()> callback = t->m_onTimeout; // t may not outlive its call
        callback(); // may restart, stop or destroy t, or touch other timers
        it = m_entries.begin();
    }
    arm();
}

void LockTimer::start(int ms, Qt::TimerType type)
{
    stop();
    m_queue = LockTimerQueue::forThisThread();
    m_coarse = type != Qt::PreciseTimer;
    m_queue->add(this, monotonicNs() + qint64(std::max(0, ms)) * NsPerMs);
}

void LockTimer::stop()
{
    if (m_queued)
        m_queue->remove(this);
}

} // namespace QRedlock
