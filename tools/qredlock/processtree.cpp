// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "processtree.h"

#include "cli.h"

#include <QtCore/QFile>
#include <QtCore/QHash>
#include <QtCore/QSet>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <vector>

namespace QRedlockCli {

namespace {

struct ProcStat
{
    pid_t ppid = -1;
    pid_t pgrp = -1;
    char state = '?';
};

// Fields 3-5 of /proc/<pid>/stat; ppid -1 when the process is gone.
ProcStat statOf(pid_t pid)
{
    ProcStat s;
    char path[32];
    std::snprintf(path, sizeof path, "/proc/%d/stat", int(pid));
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return s;
    char buffer[512];
    const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
    ::close(fd);
    if (n <= 0)
        return s;
    buffer[n] = '\0';
    const char *end = std::strrchr(buffer, ')'); // the command name may hold anything, even ')'
    int ppid = -1;
    int pgrp = -1;
    if (end && std::sscanf(end + 1, " %c %d %d", &s.state, &ppid, &pgrp) == 3) {
        s.ppid = ppid;
        s.pgrp = pgrp;
    }
    return s;
}

// Every process below root (not root itself), parents before their children.
QList<pid_t> descendantsOf(pid_t root, QHash<pid_t, ProcStat> *stats)
{
    QHash<pid_t, QList<pid_t>> children;
    if (DIR *dir = ::opendir("/proc")) {
        while (const dirent *entry = ::readdir(dir)) {
            char *end = nullptr;
            const long pid = std::strtol(entry->d_name, &end, 10);
            if (pid <= 0 || *end != '\0')
                continue;
            const ProcStat s = statOf(pid_t(pid));
            if (s.ppid < 0)
                continue;
            children[s.ppid].append(pid_t(pid));
            stats->insert(pid_t(pid), s);
        }
        ::closedir(dir);
    }
    QList<pid_t> out;
    QList<pid_t> queue = children.value(root);
    while (!queue.isEmpty()) {
        const pid_t pid = queue.takeFirst();
        out.append(pid);
        queue += children.value(pid);
    }
    return out;
}

// The places execvp() would try, computed before fork(): the child may only make
// async-signal-safe calls.
QByteArrayList candidatesFor(const QString &program)
{
    const QByteArray name = QFile::encodeName(program);
    if (name.contains('/'))
        return { name };
    QByteArray path = qgetenv("PATH");
    if (path.isNull())
        path = QByteArrayLiteral("/bin:/usr/bin"); // glibc's default for execvp()
    QByteArrayList out;
    for (const QByteArray &dir : path.split(':'))
        out.append(dir.isEmpty() ? name : dir + '/' + name); // an empty entry is the current folder
    return out;
}

std::vector<char *> pointersTo(QByteArrayList &list)
{
    std::vector<char *> out;
    for (QByteArray &item : list)
        out.push_back(item.data());
    out.push_back(nullptr);
    return out;
}

// Raw system calls: glibc 2.36's <sys/pidfd.h> has no extern "C" for C++.
int openPidfd(pid_t pid)
{
    return int(::syscall(SYS_pidfd_open, pid, 0));
}

int signalPidfd(int fd, int sig)
{
    return int(::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0));
}

void setDefault(int sig)
{
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    ::sigaction(sig, &action, nullptr);
}

} // namespace

ProcessTree::ProcessTree(QObject *parent) : QObject(parent) { }

ProcessTree::~ProcessTree()
{
    if (m_tty >= 0)
        ::close(m_tty);
    if (m_ttouChanged)
        ::sigaction(SIGTTOU, &m_ttouBefore, nullptr);
}

bool ProcessTree::becomeSubreaper()
{
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0)
        return true;
    m_error = QStringLiteral("cannot become the child subreaper: %1").arg(QString::fromLocal8Bit(std::strerror(errno)));
    return false;
}

bool ProcessTree::start(const QStringList &command, const QProcessEnvironment &environment)
{
    const QString program = command.value(0);
    if (program.isEmpty()) {
        m_error = QStringLiteral("empty program name");
        m_execError = ENOENT;
        return false;
    }
    QByteArrayList candidates = candidatesFor(program);
    QByteArrayList arguments;
    for (const QString &a : command)
        arguments.append(QFile::encodeName(a));
    QByteArrayList variables;
    const QStringList pairs = environment.toStringList();
    for (const QString &v : pairs)
        variables.append(v.toLocal8Bit());
    const std::vector<char *> paths = pointersTo(candidates);
    const std::vector<char *> argv = pointersTo(arguments);
    const std::vector<char *> envp = pointersTo(variables);

    // The terminal goes to the command only when we are in its foreground: a job in the
    // background of a shell, cron and systemd keep theirs.
    const int tty = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (tty >= 0 && ::tcgetpgrp(tty) == ::getpgrp()) {
        m_tty = tty;
        // From the background (once the command has the terminal) our messages and the
        // tcsetpgrp() calls must never stop us.
        struct sigaction ignore;
        std::memset(&ignore, 0, sizeof ignore);
        ignore.sa_handler = SIG_IGN;
        sigemptyset(&ignore.sa_mask);
        m_ttouChanged = ::sigaction(SIGTTOU, &ignore, &m_ttouBefore) == 0;
    } else if (tty >= 0) {
        ::close(tty);
    }

    int errorPipe[2];
    if (::pipe2(errorPipe, O_CLOEXEC) != 0) {
        m_error = QStringLiteral("pipe2: %1").arg(QString::fromLocal8Bit(std::strerror(errno)));
        return false;
    }
    // No signal handler of ours may run in the child (it would write into our self-pipe):
    // block everything until the child has reset the dispositions.
    sigset_t all;
    sigset_t before;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &before);
    const pid_t self = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        // The child: async-signal-safe calls only.
        ::setpgid(0, 0);
        if (m_tty >= 0) {
            ::tcsetpgrp(m_tty, ::getpid()); // SIGTTOU is ignored, as in the parent
            if (m_ttouChanged)
                ::sigaction(SIGTTOU, &m_ttouBefore, nullptr);
        }
        for (const int sig : { SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE }) // SIGPIPE: Qt ignores it
            setDefault(sig);
        // Should qredlock itself die (SIGKILL, the OOM killer), nobody renews the lock any
        // more: the kernel then sends the command SIGTERM, as for a lost lock.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != self) // died before prctl() took effect
            ::raise(SIGTERM);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        int error = ENOENT;
        for (char *const *path = paths.data(); *path; ++path) {
            ::execve(*path, argv.data(), envp.data());
            if (errno == EACCES)
                error = EACCES; // execvp() goes on, and reports EACCES if nothing else ran
            else if (errno != ENOENT && errno != ENOTDIR) {
                error = errno;
                break;
            }
        }
        [[maybe_unused]] const ssize_t written = ::write(errorPipe[1], &error, sizeof error);
        ::_exit(127);
    }
    const int forkError = errno;
    ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
    ::close(errorPipe[1]);
    if (pid < 0) {
        ::close(errorPipe[0]);
        m_error = QStringLiteral("fork: %1").arg(QString::fromLocal8Bit(std::strerror(forkError)));
        return false;
    }
    // Both sides set the group (and hand over the terminal), so neither waits for the other.
    ::setpgid(pid, pid);
    if (m_tty >= 0)
        ::tcsetpgrp(m_tty, pid);
    // Closed by the exec (O_CLOEXEC): an end of file means the program runs.
    int execError = 0;
    ssize_t n;
    do {
        n = ::read(errorPipe[0], &execError, sizeof execError);
    } while (n < 0 && errno == EINTR);
    ::close(errorPipe[0]);
    if (n == ssize_t(sizeof execError)) {
        ::waitpid(pid, nullptr, 0);
        m_pid = pid;
        takeTerminalBack();
        m_pid = 0;
        m_error = QString::fromLocal8Bit(std::strerror(execError));
        m_execError = execError;
        return false;
    }
    m_pid = pid;
    return true;
}

void ProcessTree::reap()
{
    if (m_pid <= 0 || m_noChildren)
        return;
    bool ended = false;
    for (;;) {
        int status = 0;
        // With the terminal handed over, a stop of the command matters (Ctrl-Z).
        const int flags = WNOHANG | (m_tty >= 0 && !m_commandEnded ? WUNTRACED : 0);
        const pid_t pid = ::waitpid(-1, &status, flags);
        if (pid > 0) {
            if (pid != m_pid) {
                qCDebug(lcCli) << "reaped process" << pid << "that the command left behind";
                continue;
            }
            if (WIFSTOPPED(status)) {
                suspendWithCommand();
                continue;
            }
            m_commandEnded = ended = true;
            m_commandStatus = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
            takeTerminalBack();
            continue;
        }
        if (pid < 0 && errno == EINTR)
            continue;
        m_noChildren = pid < 0; // ECHILD: as the subreaper, no child means no descendant
        break;
    }
    if (ended)
        Q_EMIT commandEnded(m_commandStatus);
    if (m_commandEnded && m_noChildren && !m_finishedSent) {
        m_finishedSent = true;
        Q_EMIT finished(m_commandStatus);
    }
}

int ProcessTree::signalAll(int sig)
{
    if (m_pid <= 0 || m_noChildren)
        return 0;
    const bool group = !m_commandEnded;
    if (group)
        ::kill(-m_pid, sig);
    const int others = sendToDescendants(sig, group);
    if (sig != SIGKILL && sig != SIGCONT) {
        if (group)
            ::kill(-m_pid, SIGCONT);
        sendToDescendants(SIGCONT, group);
    }
    return others;
}

int ProcessTree::sendToDescendants(int sig, bool skipGroup)
{
    QHash<pid_t, ProcStat> stats;
    const pid_t self = ::getpid();
    const QList<pid_t> found = descendantsOf(self, &stats);
    const QSet<pid_t> tree(found.cbegin(), found.cend());
    int sent = 0;
    for (const pid_t pid : found) {
        const ProcStat &s = stats[pid];
        if ((skipGroup && s.pgrp == m_pid) || s.state == 'Z')
            continue; // the group has it already; a zombie only waits to be reaped
        // The pid may have ended and been reused since the scan: hold it with a pidfd, then
        // check that it still is one of ours before signalling it.
        const int fd = openPidfd(pid);
        if (fd < 0) {
            if (errno == ENOSYS)
                sent += ::kill(pid, sig) == 0 ? 1 : 0;
            continue;
        }
        const pid_t parent = statOf(pid).ppid;
        if ((parent == self || tree.contains(parent)) && signalPidfd(fd, sig) == 0)
            ++sent;
        ::close(fd);
    }
    return sent;
}

int ProcessTree::descendantCount() const
{
    QHash<pid_t, ProcStat> stats;
    int count = 0;
    const QList<pid_t> found = descendantsOf(::getpid(), &stats);
    for (const pid_t pid : found)
        count += stats[pid].state == 'Z' ? 0 : 1;
    return count;
}

void ProcessTree::suspendWithCommand()
{
    // Ctrl-Z (or SIGTTIN) stopped the command: stop our own job as well, so that the shell
    // sees it stopped and takes the terminal. kill() returns once we are continued (fg, bg).
    qCDebug(lcCli) << "the command was stopped: stopping qredlock's job too";
    takeTerminalBack();
    ::kill(0, SIGTSTP);
    if (m_tty >= 0 && ::tcgetpgrp(m_tty) == ::getpgrp())
        ::tcsetpgrp(m_tty, m_pid); // fg: the terminal is ours, the command's again
    ::kill(-m_pid, SIGCONT);
}

void ProcessTree::takeTerminalBack()
{
    if (m_tty >= 0 && m_pid > 0 && ::tcgetpgrp(m_tty) == m_pid)
        ::tcsetpgrp(m_tty, ::getpgrp());
}

} // namespace QRedlockCli
