// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Exit codes of the qredlock tool: sysexits(3) values, so that cron, systemd units and
// shell scripts can tell "someone else holds the lock" from "the servers are down" from
// "the lock broke" from a typo. Outside programs depend on these values: never renumber.
#pragma once

namespace QRedlockCli {

enum ExitCode : int {
    ExitSuccess = 0,
    ExitUsage = 64,          // EX_USAGE: bad command line (one line on stderr names the problem)
    ExitDataError = 65,      // EX_DATAERR: release found the key held under another token
    ExitNoQuorum = 68,       // EX_NOHOST: too few servers answered (unreachable, timed out) to decide
    ExitUnavailable = 69,    // EX_UNAVAILABLE: run: lock lost or expired while the command ran
    ExitSoftware = 70,       // EX_SOFTWARE: internal error
    ExitTempFail = 75,       // EX_TEMPFAIL: run: a quorum answered and the lock is held elsewhere
    ExitProtocol = 76,       // EX_PROTOCOL: a server spoke no RESP, or TLS failed, on too many servers
    ExitNoPermission = 77,   // EX_NOPERM: credentials or ACL refused by too many servers
    ExitCannotExecute = 126, // run: the command exists but could not be started
    ExitNotFound = 127,      // run: the command was not found
    ExitSignalBase = 128,    // run: 128 + N when the command (or qredlock, while waiting) died by signal N
};

} // namespace QRedlockCli
