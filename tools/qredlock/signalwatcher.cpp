// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "signalwatcher.h"

#include <QtCore/QSocketNotifier>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace QRedlockCli {

namespace {

int pipeFds[2] = { -1, -1 };

extern "C" void onUnixSignal(int signalNumber, siginfo_t *info, void *)
{
    const int savedErrno = errno;
    const unsigned char record[2] = { static_cast<unsigned char>(signalNumber),
                                      static_cast<unsigned char>(info && info->si_code == SI_KERNEL) };
    // A full pipe drops the record: the event loop is far behind and the signal already pending.
    [[maybe_unused]] const ssize_t written = ::write(pipeFds[1], record, sizeof record);
    errno = savedErrno;
}

} // namespace

SignalWatcher::SignalWatcher(const QList<int> &signalNumbers, QObject *parent) : QObject(parent)
{
    if (pipeFds[0] >= 0) {
        m_error = QStringLiteral("only one signal watcher per process");
        return;
    }
    if (::pipe2(pipeFds, O_CLOEXEC | O_NONBLOCK) != 0) {
        m_error = QStringLiteral("pipe2: %1").arg(QString::fromLocal8Bit(std::strerror(errno)));
        pipeFds[0] = pipeFds[1] = -1;
        return;
    }
    m_notifier = new QSocketNotifier(pipeFds[0], QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &SignalWatcher::drain);
    for (int sig : signalNumbers) {
        struct sigaction action;
        std::memset(&action, 0, sizeof action);
        action.sa_sigaction = onUnixSignal;
        action.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&action.sa_mask);
        struct sigaction previous;
        if (::sigaction(sig, &action, &previous) == 0)
            m_previous.append({ sig, previous });
    }
}

SignalWatcher::~SignalWatcher()
{
    for (const auto &[sig, previous] : std::as_const(m_previous))
        ::sigaction(sig, &previous, nullptr);
    if (m_notifier) {
        delete m_notifier;
        ::close(pipeFds[0]);
        ::close(pipeFds[1]);
        pipeFds[0] = pipeFds[1] = -1;
    }
}

void SignalWatcher::drain()
{
    unsigned char records[64];
    for (;;) {
        const ssize_t n = ::read(pipeFds[0], records, sizeof records);
        if (n <= 0)
            return; // EAGAIN: drained
        for (ssize_t i = 0; i + 1 < n; i += 2)
            Q_EMIT received(records[i], records[i + 1] != 0);
    }
}

} // namespace QRedlockCli
