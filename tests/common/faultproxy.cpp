// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "faultproxy.h"

#include <QHostAddress>
#include <QRandomGenerator>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include <deque>
#include <utility>

#include <sys/socket.h>

namespace QRedlockTest {

namespace {

constexpr int c2s = 0; // index of Direction::ClientToServer
constexpr int s2c = 1; // index of Direction::ServerToClient

// The rule indexes a Direction stands for.
QList<int> indexes(FaultProxy::Direction direction)
{
    switch (direction) {
    case FaultProxy::Direction::ClientToServer:
        return {c2s};
    case FaultProxy::Direction::ServerToClient:
        return {s2c};
    case FaultProxy::Direction::Both:
        break;
    }
    return {c2s, s2c};
}

// Hands what was already written to the kernel, then closes with RST instead
// of FIN: SO_LINGER with a zero timeout makes close() abort the connection.
void resetSocket(QTcpSocket *socket)
{
    if (socket->state() == QAbstractSocket::ConnectedState)
        socket->flush();
    const qintptr fd = socket->socketDescriptor();
    if (fd != -1) {
        const linger abortive{1, 0};
        ::setsockopt(int(fd), SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
    }
    socket->abort();
}

} // namespace

// One proxied connection: the accepted client socket, the socket to the
// target, and a pipe for each direction that holds chunks until they are due.
class FaultProxy::Link : public QObject
{
public:
    enum class End { Closed, TargetUnreachable, Cut };

    Link(FaultProxy *proxy, QTcpSocket *client);

    void setBudget(int index, qint64 bytes) { m_pipes[index].budget = bytes; }
    void dropHeldBack(int index);
    // Ends the link once (later calls do nothing) and tells the proxy.
    void end(End how);

private:
    struct Chunk
    {
        qint64 due; // FaultProxy::now() at which it may be forwarded
        QByteArray data;
    };
    struct Pipe
    {
        int index = c2s;
        QTcpSocket *source = nullptr;
        QTcpSocket *sink = nullptr;
        std::deque<Chunk> queue;
        qint64 lastDue = 0;  // keeps the order under jitter
        qint64 budget = -1;  // bytes that may pass before a cut; -1: no cut
        bool sourceClosed = false;
        QTimer timer;
    };

    void read(Pipe &pipe);
    void deliverDue(Pipe &pipe);
    bool deliver(Pipe &pipe, const QByteArray &data);
    void schedule(Pipe &pipe);
    void onUnconnected(QTcpSocket *socket);
    Pipe &pipeFrom(QTcpSocket *source) { return m_pipes[source == m_client ? c2s : s2c]; }

    FaultProxy *m_proxy;
    QTcpSocket *m_client;
    QTcpSocket *m_server;
    Pipe m_pipes[2];
    bool m_serverConnected = false;
    bool m_ended = false;
};

FaultProxy::Link::Link(FaultProxy *proxy, QTcpSocket *client)
    : QObject(proxy)
    , m_proxy(proxy)
    , m_client(client)
    , m_server(new QTcpSocket(this))
{
    m_client->setParent(this);
    m_client->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    for (int index : {c2s, s2c}) {
        Pipe &pipe = m_pipes[index];
        pipe.index = index;
        pipe.source = index == c2s ? m_client : m_server;
        pipe.sink = index == c2s ? m_server : m_client;
        pipe.budget = proxy->m_rules[index].cutAfter;
        pipe.timer.setSingleShot(true);
        pipe.timer.setTimerType(Qt::PreciseTimer);
        connect(&pipe.timer, &QTimer::timeout, this, [this, &pipe] { deliverDue(pipe); });
        connect(pipe.source, &QIODevice::readyRead, this, [this, &pipe] { read(pipe); });
    }
    for (QTcpSocket *socket : {m_client, m_server}) {
        connect(socket, &QAbstractSocket::stateChanged, this,
                [this, socket](QAbstractSocket::SocketState state) {
                    if (state == QAbstractSocket::UnconnectedState)
                        onUnconnected(socket);
                });
    }
    connect(m_server, &QAbstractSocket::connected, this, [this] {
        m_serverConnected = true;
        m_server->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        deliverDue(m_pipes[c2s]); // what the client sent meanwhile
    });
    m_server->connectToHost(proxy->m_targetHost, proxy->m_targetPort);
}

void FaultProxy::Link::read(Pipe &pipe)
{
    // A socket aborted by an error is closed at once, buffered bytes and all.
    if (m_ended || !pipe.source->isOpen())
        return;
    const QByteArray data = pipe.source->readAll();
    const Rules &rules = m_proxy->m_rules[pipe.index];
    if (data.isEmpty() || rules.blackhole)
        return;
    qint64 delayMs = rules.delayMs;
    if (rules.jitterMs > 0)
        delayMs += QRandomGenerator::global()->bounded(rules.jitterMs + 1);
    const qint64 due = qMax(m_proxy->now() + delayMs * 1000000, pipe.lastDue);
    pipe.lastDue = due;
    pipe.queue.push_back({due, data});
    deliverDue(pipe);
}

// Forwards every chunk that is due, re-arms the timer for the next one, and
// passes a close on once nothing is held back any more.
void FaultProxy::Link::deliverDue(Pipe &pipe)
{
    if (m_ended || pipe.sink->state() != QAbstractSocket::ConnectedState)
        return;
    const qint64 now = m_proxy->now();
    while (!pipe.queue.empty() && pipe.queue.front().due <= now) {
        const QByteArray data = std::move(pipe.queue.front().data);
        pipe.queue.pop_front();
        if (!deliver(pipe, data))
            return; // cut: the link has ended
    }
    schedule(pipe);
    if (pipe.queue.empty() && pipe.sourceClosed)
        pipe.sink->disconnectFromHost();
}

// Writes one chunk, honouring the cut budget. Returns false if it cut.
bool FaultProxy::Link::deliver(Pipe &pipe, const QByteArray &data)
{
    if (pipe.budget >= 0 && data.size() >= pipe.budget) {
        pipe.sink->write(data.left(pipe.budget));
        m_proxy->m_forwarded[pipe.index] += pipe.budget;
        if (m_proxy->m_rules[pipe.index].cutMode == CutMode::Once)
            m_proxy->disarmCut(pipe.index);
        end(End::Cut);
        return false;
    }
    if (pipe.budget >= 0)
        pipe.budget -= data.size();
    pipe.sink->write(data);
    m_proxy->m_forwarded[pipe.index] += data.size();
    return true;
}

void FaultProxy::Link::schedule(Pipe &pipe)
{
    if (pipe.queue.empty()) {
        pipe.timer.stop();
        return;
    }
    // Round up: a chunk must never leave before its due time.
    const qint64 waitNs = pipe.queue.front().due - m_proxy->now();
    pipe.timer.start(int(qMax<qint64>(0, (waitNs + 999999) / 1000000)));
}

void FaultProxy::Link::dropHeldBack(int index)
{
    Pipe &pipe = m_pipes[index];
    pipe.queue.clear();
    pipe.timer.stop();
    deliverDue(pipe); // passes on a pending close
}

void FaultProxy::Link::onUnconnected(QTcpSocket *socket)
{
    if (m_ended)
        return;
    if (socket == m_server && !m_serverConnected) {
        end(End::TargetUnreachable);
        return;
    }
    // Bytes that arrived just before the close still count.
    Pipe &out = pipeFrom(socket);
    read(out);
    if (m_ended)
        return;
    out.sourceClosed = true;
    deliverDue(out);
    if (m_ended)
        return;
    // Done when both sides are closed. A sink that is still closing (sending
    // what it holds) reports Unconnected later; one that never got connected
    // (the client left while the target was being reached) is dropped.
    const QAbstractSocket::SocketState sinkState = out.sink->state();
    if (sinkState == QAbstractSocket::UnconnectedState
        || (sinkState != QAbstractSocket::ConnectedState
            && sinkState != QAbstractSocket::ClosingState))
        end(End::Closed);
}

void FaultProxy::Link::end(End how)
{
    if (m_ended)
        return;
    m_ended = true;
    // No more callbacks into this half-destroyed link.
    for (QTcpSocket *socket : {m_client, m_server})
        disconnect(socket, nullptr, this, nullptr);
    for (Pipe &pipe : m_pipes)
        pipe.timer.stop();
    if (how == End::Closed) {
        m_client->abort();
        m_server->abort();
    } else {
        resetSocket(m_client);
        resetSocket(m_server);
    }
    m_proxy->m_links.removeOne(this);
    if (how == End::Cut)
        Q_EMIT m_proxy->connectionCut();
    Q_EMIT m_proxy->connectionClosed();
    deleteLater();
}

// ---- FaultProxy -------------------------------------------------------------

FaultProxy::FaultProxy(QObject *parent)
    : QObject(parent)
{
    m_clock.start();
}

FaultProxy::~FaultProxy()
{
    stop();
}

bool FaultProxy::start(quint16 targetPort, const QString &targetHost)
{
    stop();
    m_targetHost = targetHost;
    m_targetPort = targetPort;
    m_total = 0;
    m_forwarded[c2s] = m_forwarded[s2c] = 0;
    return listen(0);
}

bool FaultProxy::listen(quint16 port)
{
    if (!m_server) {
        m_server = new QTcpServer(this);
        connect(m_server, &QTcpServer::newConnection, this, &FaultProxy::acceptConnections);
    }
    if (!m_server->listen(QHostAddress::LocalHost, port)) {
        m_errorString = QStringLiteral("cannot listen on 127.0.0.1:") + QString::number(port)
                + QStringLiteral(": ") + m_server->errorString();
        return false;
    }
    m_port = m_server->serverPort();
    return true;
}

void FaultProxy::stop()
{
    if (m_server)
        m_server->close();
    cutAll();
}

void FaultProxy::acceptConnections()
{
    while (QTcpSocket *client = m_server->nextPendingConnection()) {
        m_links.append(new Link(this, client));
        ++m_total;
        Q_EMIT connectionOpened();
    }
}

quint16 FaultProxy::port() const
{
    return m_port;
}

QString FaultProxy::url() const
{
    return QStringLiteral("redis://127.0.0.1:") + QString::number(m_port);
}

QString FaultProxy::errorString() const
{
    return m_errorString;
}

void FaultProxy::setPass(Direction direction)
{
    for (int index : indexes(direction)) {
        m_rules[index] = Rules();
        for (Link *link : std::as_const(m_links))
            link->setBudget(index, -1);
    }
}

void FaultProxy::setDelay(Direction direction, int ms)
{
    for (int index : indexes(direction))
        m_rules[index].delayMs = qMax(0, ms);
}

void FaultProxy::setJitter(Direction direction, int maxMs)
{
    for (int index : indexes(direction))
        m_rules[index].jitterMs = qMax(0, maxMs);
}

void FaultProxy::setBlackhole(Direction direction, bool on)
{
    for (int index : indexes(direction)) {
        m_rules[index].blackhole = on;
        if (!on)
            continue;
        const QList<Link *> links = m_links; // dropHeldBack() may end links
        for (Link *link : links)
            link->dropHeldBack(index);
    }
}

void FaultProxy::setCutAfterBytes(Direction direction, qint64 n, CutMode mode)
{
    for (int index : indexes(direction)) {
        m_rules[index].cutAfter = n < 0 ? -1 : n;
        m_rules[index].cutMode = mode;
        for (Link *link : std::as_const(m_links))
            link->setBudget(index, m_rules[index].cutAfter);
    }
}

void FaultProxy::disarmCut(int index)
{
    m_rules[index].cutAfter = -1;
    for (Link *link : std::as_const(m_links))
        link->setBudget(index, -1);
}

void FaultProxy::cutAll()
{
    const QList<Link *> links = m_links; // end() removes from m_links
    for (Link *link : links)
        link->end(Link::End::Cut);
}

bool FaultProxy::setRefuseNew(bool refuse)
{
    if (refuse == m_refuseNew || !m_server)
        return true;
    m_refuseNew = refuse;
    if (refuse) {
        m_server->close();
        return true;
    }
    return listen(m_port);
}

int FaultProxy::connectionCount() const
{
    return int(m_links.size());
}

int FaultProxy::totalConnections() const
{
    return m_total;
}

qint64 FaultProxy::bytesForwarded(Direction direction) const
{
    qint64 sum = 0;
    for (int index : indexes(direction))
        sum += m_forwarded[index];
    return sum;
}

qint64 FaultProxy::now() const
{
    return m_clock.nsecsElapsed();
}

} // namespace QRedlockTest
