// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "benchutil.h"

#include "rawredisclient.h"
#include "redisserver.h"

#include <QtCore/QAbstractEventDispatcher>
#include <QtCore/QCoreApplication>
#include <QtCore/QEventLoop>
#include <QtCore/QFile>
#include <QtCore/QJsonDocument>
#include <QtCore/QTimer>
#include <QtCore/QUrl>
#include <QtNetwork/QTcpSocket>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace LockBench {

Options::Options(const QStringList &args, int first)
{
    for (int i = first; i < args.size(); ++i) {
        const QString &a = args.at(i);
        if (!a.startsWith(QLatin1String("--")))
            fail(QStringLiteral("unexpected argument '%1'").arg(a));
        const QString key = a.mid(2);
        if (i + 1 < args.size() && !args.at(i + 1).startsWith(QLatin1String("--")))
            m_values.insert(key, args.at(++i));
        else
            m_values.insert(key, QStringLiteral("1"));
    }
}

QString Options::value(const QString &key, const QString &fallback) const
{
    return m_values.value(key, fallback);
}

int Options::intValue(const QString &key, int fallback) const
{
    if (!m_values.contains(key))
        return fallback;
    bool ok = false;
    const int v = m_values.value(key).toInt(&ok);
    if (!ok)
        fail(QStringLiteral("--%1 needs an integer, got '%2'").arg(key, m_values.value(key)));
    return v;
}

double Options::doubleValue(const QString &key, double fallback) const
{
    if (!m_values.contains(key))
        return fallback;
    bool ok = false;
    const double v = m_values.value(key).toDouble(&ok);
    if (!ok)
        fail(QStringLiteral("--%1 needs a number, got '%2'").arg(key, m_values.value(key)));
    return v;
}

QStringList Options::list(const QString &key) const
{
    return value(key).split(u',', Qt::SkipEmptyParts);
}

QJsonObject latencySummary(QList<qint64> samples)
{
    QJsonObject o;
    o.insert(QStringLiteral("samples"), int(samples.size()));
    if (samples.isEmpty())
        return o;
    std::sort(samples.begin(), samples.end());
    const auto pct = [&](double p) {
        const qsizetype i = std::min<qsizetype>(samples.size() - 1, qsizetype(p * double(samples.size())));
        return double(samples.at(i)) / 1000.0;
    };
    double sum = 0;
    for (qint64 s : std::as_const(samples))
        sum += double(s);
    o.insert(QStringLiteral("p50_us"), pct(0.50));
    o.insert(QStringLiteral("p90_us"), pct(0.90));
    o.insert(QStringLiteral("p99_us"), pct(0.99));
    o.insert(QStringLiteral("min_us"), double(samples.first()) / 1000.0);
    o.insert(QStringLiteral("max_us"), double(samples.last()) / 1000.0);
    o.insert(QStringLiteral("mean_us"), sum / double(samples.size()) / 1000.0);
    return o;
}

qint64 rssKiB()
{
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    const QList<QByteArray> lines = f.readAll().split('\n');
    for (const QByteArray &line : lines) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

double cpuSeconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    const auto secs = [](const timeval &t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return secs(u.ru_utime) + secs(u.ru_stime);
}

QString dispatcherName()
{
    QAbstractEventDispatcher *d = QAbstractEventDispatcher::instance();
    return d ? QString::fromLatin1(d->metaObject()->className()) : QString();
}

void emitResult(QJsonObject result)
{
    result.insert(QStringLiteral("dispatcher"), dispatcherName());
    const QByteArray line = QJsonDocument(result).toJson(QJsonDocument::Compact);
    std::fwrite(line.constData(), 1, size_t(line.size()), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

void fail(const QString &message)
{
    std::fprintf(stderr, "lockbench: %s\n", qPrintable(message));
    std::fflush(stderr);
    std::exit(2);
}

ServerSet::ServerSet() = default;
ServerSet::~ServerSet() = default;

QStringList ServerSet::setUp(const Options &options, int defaultCount)
{
    const QStringList given = options.list(QStringLiteral("urls"));
    const int count = options.intValue(QStringLiteral("servers"), given.isEmpty() ? defaultCount : int(given.size()));
    if (!given.isEmpty()) {
        if (given.size() < count)
            fail(QStringLiteral("--urls has %1 servers, %2 needed").arg(given.size()).arg(count));
        return given.mid(0, count);
    }
    m_own = std::make_unique<QRedlockTest::RedisCluster>();
    if (!m_own->start(count))
        fail(QStringLiteral("cannot start %1 redis-server(s): %2").arg(count).arg(m_own->errorString()));
    return m_own->urls();
}

quint16 ServerSet::portOf(const QString &url)
{
    return quint16(QUrl(url).port(6379));
}

bool spinUntil(const std::function<bool()> &done, int timeoutMs)
{
    if (done())
        return true;
    QEventLoop loop;
    QTimer poll;
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        if (done())
            loop.quit();
    });
    poll.start(5);
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    loop.exec();
    return done();
}

bool Waiter::wait(int timeoutMs)
{
    if (m_quit) {
        m_quit = false;
        return true;
    }
    QEventLoop loop;
    m_loop = &loop;
    QTimer guard;
    guard.setSingleShot(true);
    QObject::connect(&guard, &QTimer::timeout, &loop, [&loop] { loop.exit(1); });
    guard.start(timeoutMs);
    const int rc = loop.exec();
    m_loop = nullptr;
    m_quit = false;
    return rc == 0;
}

void Waiter::quit()
{
    if (m_loop)
        m_loop->quit();
    else
        m_quit = true;
}

// ---- BareFanout ------------------------------------------------------------------------

BareFanout::BareFanout(const QStringList &urls)
{
    for (const QString &u : urls) {
        auto *s = new QTcpSocket(this);
        const int index = int(m_sockets.size());
        connect(s, &QTcpSocket::readyRead, this, [this, index] { onReadyRead(index); });
        m_sockets.append(s);
        m_ports.append(ServerSet::portOf(u));
    }
}

BareFanout::~BareFanout() = default;

bool BareFanout::connectAll(int timeoutMs)
{
    for (int i = 0; i < m_sockets.size(); ++i)
        m_sockets[i]->connectToHost(QStringLiteral("127.0.0.1"), m_ports.at(i));
    const bool ok = spinUntil([this] {
        return std::all_of(m_sockets.cbegin(), m_sockets.cend(),
                           [](QTcpSocket *s) { return s->state() == QAbstractSocket::ConnectedState; });
    }, timeoutMs);
    for (QTcpSocket *s : std::as_const(m_sockets))
        s->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    return ok;
}

QList<qint64> BareFanout::measure(int samples, int quorum, const QByteArray &key)
{
    m_set = QRedlockTest::encodeCommand({ "SET", key, "v", "NX", "PX", "10000" });
    m_del = QRedlockTest::encodeCommand({ "DEL", key });
    m_quorum = quorum;
    m_remaining = samples;
    m_samples.clear();
    m_samples.reserve(samples);
    m_clock.start();
    QTimer::singleShot(0, this, [this] { startRound(); });
    if (!m_waiter.wait(120000))
        fail(QStringLiteral("bare fan-out: no progress (%1 rounds left)").arg(m_remaining));
    return m_samples;
}

void BareFanout::startRound()
{
    m_inSet = true;
    m_answered = 0;
    m_t0 = m_clock.nsecsElapsed();
    for (QTcpSocket *s : std::as_const(m_sockets))
        s->write(m_set);
}

void BareFanout::onReadyRead(int index)
{
    // Every reply here is one line (+OK, $-1, :1): a socket has answered once its '\n' came.
    if (!m_sockets[index]->readAll().contains('\n'))
        return;
    ++m_answered;
    if (m_inSet && m_answered == m_quorum)
        m_samples.append(m_clock.nsecsElapsed() - m_t0);
    if (m_answered < m_sockets.size())
        return;
    m_answered = 0;
    if (m_inSet) {
        m_inSet = false;
        for (QTcpSocket *s : std::as_const(m_sockets))
            s->write(m_del);
        return;
    }
    if (--m_remaining <= 0) {
        m_waiter.quit();
        return;
    }
    QTimer::singleShot(0, this, [this] { startRound(); });
}

} // namespace LockBench

namespace LockBench {

namespace {

int connectBlocking(const QString &url)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(ServerSet::portOf(url));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof addr) != 0
        || ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        fail(QStringLiteral("blocking socket: cannot connect to %1").arg(url));
    return fd;
}

} // namespace

BlockingRoundTrip::BlockingRoundTrip(const QString &url)
    : m_fd(connectBlocking(url)),
      m_command(QRedlockTest::encodeCommand({ "SET", "lockbench:rtt", "v", "NX", "PX", "10000" }))
{
}

BlockingRoundTrip::~BlockingRoundTrip()
{
    ::close(m_fd);
}

qint64 BlockingRoundTrip::measureNs()
{
    const auto t0 = std::chrono::steady_clock::now();
    if (::send(m_fd, m_command.constData(), size_t(m_command.size()), MSG_NOSIGNAL) != m_command.size())
        fail(QStringLiteral("blocking round trip: send failed"));
    char buf[256];
    for (;;) { // one line: +OK or $-1
        const ssize_t n = ::recv(m_fd, buf, sizeof buf, 0);
        if (n <= 0)
            fail(QStringLiteral("blocking round trip: connection closed"));
        if (std::memchr(buf, '\n', size_t(n)))
            break;
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
}

QList<qint64> blockingFanout(const QStringList &urls, int samples, int quorum, const QByteArray &key, int pauseMs)
{
    std::vector<int> fds;
    for (const QString &u : urls)
        fds.push_back(connectBlocking(u));
    const QByteArray set = QRedlockTest::encodeCommand({ "SET", key, "v", "NX", "PX", "10000" });
    const QByteArray del = QRedlockTest::encodeCommand({ "DEL", key });
    // One round: send to all, return the time until `need` servers answered (one line each),
    // after all of them did.
    const auto round = [&](const QByteArray &cmd, int need) {
        const auto t0 = std::chrono::steady_clock::now();
        qint64 atQuorum = -1;
        for (int fd : fds) {
            if (::send(fd, cmd.constData(), size_t(cmd.size()), MSG_NOSIGNAL) != cmd.size())
                fail(QStringLiteral("blocking fan-out: send failed"));
        }
        std::vector<bool> answered(fds.size(), false);
        int count = 0;
        while (count < int(fds.size())) {
            std::vector<pollfd> p;
            std::vector<size_t> index;
            for (size_t i = 0; i < fds.size(); ++i) {
                if (!answered[i]) {
                    p.push_back({ fds[i], POLLIN, 0 });
                    index.push_back(i);
                }
            }
            if (::poll(p.data(), nfds_t(p.size()), 5000) <= 0)
                fail(QStringLiteral("blocking fan-out: no reply within 5 s"));
            for (size_t k = 0; k < p.size(); ++k) {
                if (!(p[k].revents & (POLLIN | POLLERR | POLLHUP)))
                    continue;
                char buf[256];
                const ssize_t n = ::recv(p[k].fd, buf, sizeof buf, 0);
                if (n <= 0)
                    fail(QStringLiteral("blocking fan-out: connection closed"));
                if (!std::memchr(buf, '\n', size_t(n)))
                    continue;
                answered[index[k]] = true;
                if (++count == need)
                    atQuorum = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
            }
        }
        return atQuorum;
    };
    QList<qint64> out;
    out.reserve(samples);
    for (int i = 0; i < samples; ++i) {
        if (pauseMs > 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(pauseMs));
        out.append(round(set, quorum));
        round(del, int(fds.size()));
    }
    for (int fd : fds)
        ::close(fd);
    return out;
}

} // namespace LockBench
