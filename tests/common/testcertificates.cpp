// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

#include "testcertificates.h"

#include <QDir>
#include <QFile>
#include <QMutex>
#include <QMutexLocker>
#include <QProcess>
#include <QStandardPaths>
#include <QStringList>
#include <QTemporaryDir>

#include <memory>

namespace QRedlockTest {

namespace {

struct State
{
    QMutex mutex;
    bool done = false;
    QString error;
    std::unique_ptr<QTemporaryDir> dir; // removed at process exit
};

State &state()
{
    static State s;
    return s;
}

// Runs `openssl args...` in dir; on failure returns false with its output.
bool openssl(const QString &dir, const QStringList &args, QString *error)
{
    QProcess process;
    process.setWorkingDirectory(dir);
    process.setProcessChannelMode(QProcess::MergedChannels);
    process.start(QStringLiteral("openssl"), args);
    if (!process.waitForFinished(30000) || process.exitStatus() != QProcess::NormalExit
        || process.exitCode() != 0) {
        *error = QStringLiteral("openssl ") + args.join(QLatin1Char(' ')) + QStringLiteral(" failed: ")
                + process.errorString() + QLatin1Char('\n')
                + QString::fromLocal8Bit(process.readAll());
        process.kill();
        process.waitForFinished(1000);
        return false;
    }
    return true;
}

QStringList rsaKeyArgs(const QString &name)
{
    return {QStringLiteral("-nodes"), QStringLiteral("-newkey"), QStringLiteral("rsa:2048"),
            QStringLiteral("-keyout"), name + QStringLiteral(".key")};
}

bool makeCa(const QString &dir, const QString &name, const QString &commonName, QString *error)
{
    QStringList args{QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-new")};
    args << rsaKeyArgs(name)
         << QStringLiteral("-out") << name + QStringLiteral(".crt")
         << QStringLiteral("-days") << QStringLiteral("3650")
         << QStringLiteral("-subj") << QStringLiteral("/CN=") + commonName
         << QStringLiteral("-addext") << QStringLiteral("basicConstraints=critical,CA:TRUE")
         << QStringLiteral("-addext") << QStringLiteral("keyUsage=critical,keyCertSign,cRLSign");
    return openssl(dir, args, error);
}

// A key and a certificate signed by ca.crt, with the given X.509v3 extensions.
bool makeLeaf(const QString &dir, const QString &name, const QString &commonName,
              const QByteArray &extensions, QString *error)
{
    QFile ext(dir + QLatin1Char('/') + name + QStringLiteral(".ext"));
    if (!ext.open(QIODevice::WriteOnly) || ext.write(extensions) != extensions.size()) {
        *error = QStringLiteral("cannot write ") + ext.fileName();
        return false;
    }
    ext.close();

    QStringList request{QStringLiteral("req"), QStringLiteral("-new")};
    request << rsaKeyArgs(name)
            << QStringLiteral("-out") << name + QStringLiteral(".csr")
            << QStringLiteral("-subj") << QStringLiteral("/CN=") + commonName;
    const QStringList sign{QStringLiteral("x509"), QStringLiteral("-req"),
                           QStringLiteral("-in"), name + QStringLiteral(".csr"),
                           QStringLiteral("-CA"), QStringLiteral("ca.crt"),
                           QStringLiteral("-CAkey"), QStringLiteral("ca.key"),
                           QStringLiteral("-CAcreateserial"),
                           QStringLiteral("-out"), name + QStringLiteral(".crt"),
                           QStringLiteral("-days"), QStringLiteral("3650"),
                           QStringLiteral("-extfile"), ext.fileName()};
    return openssl(dir, request, error) && openssl(dir, sign, error);
}

bool generate(const QString &dir, QString *error)
{
    if (QStandardPaths::findExecutable(QStringLiteral("openssl")).isEmpty()) {
        *error = QStringLiteral("`openssl` not found in PATH (install the openssl package)");
        return false;
    }
    return makeCa(dir, QStringLiteral("ca"), QStringLiteral("QRedlock Test CA"), error)
            && makeCa(dir, QStringLiteral("wrong-ca"), QStringLiteral("QRedlock Unrelated CA"), error)
            && makeLeaf(dir, QStringLiteral("server"), QStringLiteral("127.0.0.1"),
                        QByteArrayLiteral("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                          "basicConstraints=CA:FALSE\n"
                                          "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                          "extendedKeyUsage=serverAuth\n"),
                        error)
            && makeLeaf(dir, QStringLiteral("client"), QStringLiteral("qredlock-test-client"),
                        QByteArrayLiteral("basicConstraints=CA:FALSE\n"
                                          "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                          "extendedKeyUsage=clientAuth\n"),
                        error);
}

QString file(const QString &name)
{
    State &s = state();
    QMutexLocker locker(&s.mutex);
    if (!s.done || !s.error.isEmpty())
        return {};
    return s.dir->filePath(name);
}

} // namespace

bool TestCertificates::ensure(QString *errorString)
{
    State &s = state();
    QMutexLocker locker(&s.mutex);
    if (!s.done) {
        s.done = true;
        s.dir = std::make_unique<QTemporaryDir>(QDir::tempPath()
                                                + QStringLiteral("/qredlock-certs-XXXXXX"));
        if (!s.dir->isValid())
            s.error = QStringLiteral("cannot create a temporary folder: ") + s.dir->errorString();
        else
            generate(s.dir->path(), &s.error);
    }
    if (errorString)
        *errorString = s.error;
    return s.error.isEmpty();
}

QString TestCertificates::caFile() { return file(QStringLiteral("ca.crt")); }
QString TestCertificates::serverCertFile() { return file(QStringLiteral("server.crt")); }
QString TestCertificates::serverKeyFile() { return file(QStringLiteral("server.key")); }
QString TestCertificates::clientCertFile() { return file(QStringLiteral("client.crt")); }
QString TestCertificates::clientKeyFile() { return file(QStringLiteral("client.key")); }
QString TestCertificates::wrongCaFile() { return file(QStringLiteral("wrong-ca.crt")); }

} // namespace QRedlockTest
