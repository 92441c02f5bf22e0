// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Helpers of `lockbench suite`: child processes, JSON lines and the table's number formats.
#pragma once

#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QProcessEnvironment>
#include <QtCore/QString>
#include <QtCore/QStringList>

namespace LockBench {

// A progress line on stderr, with the time of day.
void progress(const QString &text);
// {"error": message}, after saying so on stderr.
QJsonObject errorObject(const QString &message);
// Runs a program and returns its stdout, or an error text in *error.
QByteArray runProgram(const QString &program, const QStringList &args, const QProcessEnvironment &env,
                      int timeoutMs, QString *error);
QJsonObject lastJsonLine(const QByteArray &out);
// The median of the positive values (0 when there are none).
double median(QList<double> v);
QString fmtUs(double us);         // "812.0 µs", "1.45 ms"; "n/a" for ≤ 0
QString fmtRate(double perSecond); // "880/s", "23.4k/s"
QString fmtRatio(double r);        // "1.45×"
// The number at a dotted path ("acquire.p50_us") of a JSON object; -1 when absent.
double num(const QJsonObject &o, const QString &path);

} // namespace LockBench
