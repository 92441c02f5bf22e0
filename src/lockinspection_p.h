// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Private parts of LockInspection: the verdict drawn from an inspection round.
#pragma once

#include "lockinspection.h"
#include "lockmanager_p.h"

#include <vector>

namespace QRedlock {

class LockInspectionPrivate
{
public:
    explicit LockInspectionPrivate(LockInspection *q) : q(q) { }
    static LockInspectionPrivate *get(LockInspection *job) { return job->d.get(); }

    // Draws the verdict from what every server said about the key (an inspection round),
    // with the per-server results of a forced release before it (or none), and finishes.
    void complete(const QString &resource, const QuorumRound &inspected,
                  const std::vector<QuorumRound::Server> *released, const QStringList &urls);
    // Finishes without asking any server (bad input, no servers), through the event loop.
    void failLater(const QString &resource, const QString &message);
    void finish(const LockInfo &result);

    LockInspection *q;
    LockInfo info;
    bool finished = false;
    bool autoDelete = true;
};

} // namespace QRedlock
