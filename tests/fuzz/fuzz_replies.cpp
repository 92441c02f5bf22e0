// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// libFuzzer target: arbitrary bytes as a server's replies to a RedisConnection.
//
// Input layout: byte 0 says which requests are pending when the bytes arrive (low 3 bits:
// how many, 0..7; the other bits: which of them are scripts, which may fall back from
// EVALSHA to EVAL on NOSCRIPT); byte 1 says where to split the rest into two deliveries
// (the reader must cope with replies cut anywhere). The rest are the server's bytes.
//
// Checks: no crash or sanitizer report; no callback runs twice; every reply handed to a
// callback is well formed (readable all the way down). Nothing leaves the process: the
// connection points at 127.0.0.1:1 and is destroyed before the event loop could connect.

#include "redisconnection_p.h"
#include "redisendpoint.h"

#include <QCoreApplication>
#include <QLoggingCategory>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace QRedlock;

namespace {

[[noreturn]] void broken(const char *what)
{
    std::fprintf(stderr, "fuzz_replies: %s\n", what);
    std::abort();
}

// Reads every byte of a value, so that ASan sees any bad memory in it.
size_t walk(const RedisValue &v, int depth = 0)
{
    if (depth > 64)
        broken("reply nested deeper than any RESP2 reader allows");
    size_t sum = size_t(v.integer) + size_t(v.type);
    for (char c : v.string)
        sum += size_t(uchar(c));
    for (const RedisValue &e : v.elements)
        sum += walk(e, depth + 1);
    return sum;
}

volatile size_t sink;

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    static int argc = 1;
    static char name[] = "fuzz_replies";
    static char *argv[] = { name, nullptr };
    new QCoreApplication(argc, argv); // timers and queued calls need one; lives for the process
    QLoggingCategory::setFilterRules(QStringLiteral("qredlock.*=false"));
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const int requests = data[0] & 7;
    const unsigned scriptBits = data[0] >> 3;
    const QByteArray bytes(reinterpret_cast<const char *>(data + 2), qsizetype(size - 2));
    const qsizetype split = bytes.isEmpty() ? 0 : qsizetype(data[1]) % (bytes.size() + 1);

    std::vector<int> calls(size_t(requests), 0);
    {
        RedisConnection connection(RedisEndpoint::fromString(QStringLiteral("redis://127.0.0.1:1")));
        const RedisScript script(QByteArrayLiteral("return 1"));
        for (int i = 0; i < requests; ++i) {
            auto callback = [&calls, i](const RedisReply &reply) {
                if (++calls[size_t(i)] > 1)
                    broken("a request's callback ran twice");
                sink = walk(reply.value) + size_t(reply.errorString.size());
            };
            if (scriptBits & (1u << (i % 5)))
                connection.evalScript(script, { QByteArrayLiteral("k") }, { QByteArrayLiteral("v") }, callback);
            else
                connection.send({ QByteArrayLiteral("GET"), QByteArrayLiteral("k") }, callback);
        }
        connection.injectIncomingForTesting(bytes.left(split));
        connection.injectIncomingForTesting(bytes.mid(split));
    }
    // Queued completions and deferred deletions of the connection's socket.
    QCoreApplication::sendPostedEvents(nullptr, 0);
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    return 0;
}
