// `qredlock status` and `qredlock release`: one small exchange with every server in
// parallel (RespClient), then a report. They read and delete keys directly, which the
// library's API does not offer.
#pragma once

#include "cli.h"
#include "respclient.h"

#include <QtCore/QObject>

namespace QRedlockCli {

// Sends one batch of commands to every server in parallel, waits for all of them, then
// prints the outcome: `status` (GET, PTTL, the fencing counter) or `release`
// (compare-and-delete).
class ServerSweep : public QObject
{
    Q_OBJECT

public:
    explicit ServerSweep(const Settings &settings, QObject *parent = nullptr);

    // Returns -1 when under way (finished() follows), else an exit code.
    int start();

Q_SIGNALS:
    void finished(int exitCode);

private:
    // Each prints its report and returns the exit code.
    int reportStatus() const;
    int reportRelease() const;
    int quorum() const { return int(m_settings.servers.size()) / 2 + 1; }

    Settings m_settings;
    QByteArray m_key;
    QList<const RespClient *> m_clients;
    int m_pending = 0;
};

} // namespace QRedlockCli
