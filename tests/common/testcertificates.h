// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// TLS material for tests, generated with the `openssl` command at run time.
//
// Generated once per process into a temporary folder that is removed at exit:
//   ca.crt / ca.key          the test CA
//   server.crt / server.key  signed by the CA; CN 127.0.0.1,
//                            subjectAltName IP:127.0.0.1, DNS:localhost
//   client.crt / client.key  signed by the CA, for client authentication
//   wrong-ca.crt             an unrelated CA, for negative tests
// All keys are RSA 2048 in PEM (PKCS#8), so loaders that assume RSA work.

#ifndef QREDLOCKTEST_TESTCERTIFICATES_H
#define QREDLOCKTEST_TESTCERTIFICATES_H

#include <QString>

namespace QRedlockTest {

class TestCertificates
{
public:
    // Generates the files unless done already (thread-safe). Returns false,
    // and sets *errorString if given, when `openssl` is missing or fails; the
    // failure is remembered and returned again on later calls.
    static bool ensure(QString *errorString = nullptr);

    // Absolute paths; empty until ensure() succeeded.
    static QString caFile();
    static QString serverCertFile();
    static QString serverKeyFile();
    static QString clientCertFile();
    static QString clientKeyFile();
    static QString wrongCaFile();
};

} // namespace QRedlockTest

#endif // QREDLOCKTEST_TESTCERTIFICATES_H
