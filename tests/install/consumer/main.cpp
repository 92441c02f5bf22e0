// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Parses a TLS server URL with the installed QRedlock and checks every part of it.
// Exits 0 when all checks pass, 1 otherwise. Also built by the packaging test with
// nothing but `pkg-config --cflags --libs qredlock`.

#include <QRedlock/RedisEndpoint>

#include <cstdio>

int main()
{
    const QRedlock::RedisEndpoint endpoint =
            QRedlock::RedisEndpoint::fromString(QStringLiteral("rediss://user:secret@127.0.0.1:6380/2"));
    int failures = 0;
    const auto check = [&failures](bool ok, const char *what) {
        if (!ok) {
            std::fprintf(stderr, "qredlock_consumer: wrong %s\n", what);
            ++failures;
        }
    };
    check(endpoint.isValid(), "validity");
    check(endpoint.host() == QStringLiteral("127.0.0.1"), "host");
    check(endpoint.port() == 6380, "port");
    check(endpoint.database() == 2, "database");
    check(endpoint.username() == QStringLiteral("user"), "user");
    check(endpoint.isTls(), "TLS flag");
    check(!endpoint.toString().contains(QStringLiteral("secret")), "printing (shows the password)");
    std::printf("qredlock_consumer: %s -> %s\n", qPrintable(endpoint.toString()), failures ? "FAILED" : "ok");
    return failures == 0 ? 0 : 1;
}
