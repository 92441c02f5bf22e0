// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Turns Unix signals into a Qt signal, async-signal-safely: the handler only write()s a
// two-byte record into a non-blocking self-pipe, which a QSocketNotifier reads in the
// event loop.
#pragma once

#include <QtCore/QList>
#include <QtCore/QObject>

#include <csignal>

QT_BEGIN_NAMESPACE
class QSocketNotifier;
QT_END_NAMESPACE

namespace QRedlockCli {

class SignalWatcher : public QObject
{
    Q_OBJECT

public:
    // Catches the given signals until destroyed (then their previous handling returns).
    // One watcher per process.
    explicit SignalWatcher(const QList<int> &signalNumbers, QObject *parent = nullptr);
    ~SignalWatcher() override;

    bool isValid() const { return m_notifier != nullptr; }
    QString errorString() const { return m_error; }

Q_SIGNALS:
    // fromTerminal: the kernel sent it to a whole process group (Ctrl-C, Ctrl-\, a terminal
    // hang-up), not kill(2) aimed at this process.
    void received(int signalNumber, bool fromTerminal);

private:
    void drain();

    QSocketNotifier *m_notifier = nullptr;
    QList<QPair<int, struct sigaction>> m_previous;
    QString m_error;
};

} // namespace QRedlockCli
