// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// libFuzzer target: RedisEndpoint::fromString() on arbitrary text.
//
// Besides "no crash, no sanitizer report", it checks the parser's promises:
// - an endpoint is valid exactly when errorString() is empty;
// - a valid endpoint prints a URL that parses back to the same endpoint (toString() hides
//   the password, so that part is only checked without one) and to the same identity;
// - an invalid endpoint prints nothing and has no identity.

#include "redisendpoint.h"

#include <QString>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

using QRedlock::RedisEndpoint;

namespace {

[[noreturn]] void broken(const char *what, const QString &input, const QString &detail)
{
    std::fprintf(stderr, "fuzz_endpoint: %s\n  input:  %s\n  detail: %s\n", what,
                 input.toUtf8().constData(), detail.toUtf8().constData());
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QString input = QString::fromUtf8(reinterpret_cast<const char *>(data), qsizetype(size));
    const RedisEndpoint e = RedisEndpoint::fromString(input);
    if (e.isValid() != e.errorString().isEmpty())
        broken("isValid() disagrees with errorString()", input, e.errorString());
    if (!e.isValid()) {
        if (!e.toString().isEmpty() || !e.serverIdentity().isEmpty())
            broken("an invalid endpoint prints a URL or an identity", input, e.toString());
        return 0;
    }
    // Touch every accessor (sanitizers see what they read).
    (void)e.isTls();
    (void)e.isUnixSocket();
    (void)e.host().size();
    (void)e.port();
    (void)e.socketPath().size();
    (void)e.database();
    (void)e.username().size();
    (void)e.caFile().size();
    (void)e.serverName().size();
    (void)e.verifyPeer();

    const QString printed = e.toString();
    if (e.hasPassword())
        return 0; // "***" stands in for the password: nothing to compare
    const RedisEndpoint again = RedisEndpoint::fromString(printed);
    if (!again.isValid())
        broken("toString() gives a URL that does not parse", input, printed + QStringLiteral(" -> ") + again.errorString());
    if (!(again == e))
        broken("toString() does not round-trip", input, printed + QStringLiteral(" -> ") + again.toString());
    if (again.serverIdentity() != e.serverIdentity())
        broken("serverIdentity() changes over a round trip", input, e.serverIdentity() + QStringLiteral(" vs ") + again.serverIdentity());
    return 0;
}
