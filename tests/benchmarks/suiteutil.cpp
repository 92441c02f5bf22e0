// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Helpers of `lockbench suite` (suite.cpp, pushsuite.cpp): running a measurement in a child
// process, reading its JSON line, and formatting the table's cells.
#include "suiteutil.h"

#include <QtCore/QJsonDocument>
#include <QtCore/QProcess>
#include <QtCore/QTime>

#include <algorithm>
#include <cstdio>

namespace LockBench {

void progress(const QString &text)
{
    std::fprintf(stderr, "[bench %s] %s\n", qPrintable(QTime::currentTime().toString(QStringLiteral("HH:mm:ss"))),
                 qPrintable(text));
    std::fflush(stderr);
}

QJsonObject errorObject(const QString &message)
{
    progress(QStringLiteral("  failed: ") + message);
    QJsonObject o;
    o.insert(QStringLiteral("error"), message);
    return o;
}

// Runs a program and returns its stdout, or an error text in *error.
QByteArray runProgram(const QString &program, const QStringList &args, const QProcessEnvironment &env,
                      int timeoutMs, QString *error)
{
    QProcess p;
    p.setProcessEnvironment(env);
    p.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    p.start(program, args);
    if (!p.waitForStarted(10000)) {
        *error = QStringLiteral("%1: cannot start (%2)").arg(program, p.errorString());
        return {};
    }
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(5000);
        *error = QStringLiteral("%1 %2: no result within %3 s").arg(program, args.value(0)).arg(timeoutMs / 1000);
        return {};
    }
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        *error = QStringLiteral("%1 %2: exit code %3").arg(program, args.value(0)).arg(p.exitCode());
        return {};
    }
    return p.readAllStandardOutput();
}

QJsonObject lastJsonLine(const QByteArray &out)
{
    const QList<QByteArray> lines = out.trimmed().split('\n');
    return QJsonDocument::fromJson(lines.last()).object();
}

double median(QList<double> v)
{
    v.removeIf([](double x) { return !(x > 0); });
    if (v.isEmpty())
        return 0;
    std::sort(v.begin(), v.end());
    return v.at(v.size() / 2);
}

QString fmtUs(double us)
{
    if (us <= 0)
        return QStringLiteral("n/a");
    if (us >= 1000)
        return QString::number(us / 1000.0, 'f', 2) + QStringLiteral(" ms");
    return QString::number(us, 'f', 1) + QStringLiteral(" µs");
}

QString fmtRate(double perSecond)
{
    if (perSecond <= 0)
        return QStringLiteral("n/a");
    if (perSecond >= 10000)
        return QString::number(perSecond / 1000.0, 'f', 1) + QStringLiteral("k/s");
    return QString::number(perSecond, 'f', 0) + QStringLiteral("/s");
}

QString fmtRatio(double r)
{
    return r > 0 ? QString::number(r, 'f', 2) + QStringLiteral("×") : QStringLiteral("n/a");
}

double num(const QJsonObject &o, const QString &path)
{
    QJsonValue v = o;
    const QStringList parts = path.split(u'.');
    for (const QString &p : parts)
        v = v.toObject().value(p);
    return v.toDouble(-1);
}

} // namespace LockBench
