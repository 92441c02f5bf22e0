// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// LockTimer: the timers of locks (expiry, extension, retry), all kept on one Qt timer per
// thread. Qt keeps its timers in one sorted list with linear insertion and removal: with
// 10,000 held locks (20,000 timers, restarted on every extension) that list took three
// quarters of the process's CPU. Here deadlines sit in a multimap (O(log n)) and one QTimer
// is armed for the earliest. Single-shot; the callback is set once, at construction, and
// may restart, stop or destroy its own timer.
#pragma once

#include <QtCore/QObject>
#include <QtCore/QTimer>

#include <functional>
#include <map>

namespace QRedlock {

class LockTimerQueue;

class LockTimer
{
public:
    explicit LockTimer(std::function<void()> onTimeout) : m_onTimeout(std::move(onTimeout)) { }
    LockTimer(const LockTimer &) = delete;
    LockTimer &operator=(const LockTimer &) = delete;
    ~LockTimer() { stop(); }

    // Precise timers fire on time; coarse ones (extensions) may fire up to 5 ms early, so
    // that many locks' renewals leave together.
    void start(int ms, Qt::TimerType type);
    void stop();
    bool isActive() const { return m_queued; }

private:
    friend class LockTimerQueue;
    std::function<void()> m_onTimeout;
    LockTimerQueue *m_queue = nullptr; // of the thread that started it; valid while m_queued
    std::multimap<qint64, LockTimer *>::iterator m_entry;
    bool m_queued = false;
    bool m_coarse = false;
};

// The deadlines of one thread's LockTimers, on one precise QTimer.
class LockTimerQueue : public QObject
{
public:
    static LockTimerQueue *forThisThread();

    LockTimerQueue();
    ~LockTimerQueue() override;

    void add(LockTimer *timer, qint64 dueNs);
    void remove(LockTimer *timer);
    int size() const { return int(m_entries.size()); }

private:
    void arm();
    void fire();

    std::multimap<qint64, LockTimer *> m_entries;
    QTimer m_timer;
    qint64 m_armedNs = 0;
};

} // namespace QRedlock
