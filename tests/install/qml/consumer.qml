// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// Run by scripts/package-test with the `qml` runtime against the installed
// qml6-module-qredlock: the module loads, its types are creatable and read as documented.
// Exits 0 when every check passes. (The root is an Item: Qt 6.4's qml tool does not count a
// plain QtObject as a loaded object and exits 2.)
import QtQuick
import QRedlock

Item {
    id: root

    property LockManager manager: LockManager {
        servers: ["redis://127.0.0.1:6399"]
    }
    property DistributedLock lock: DistributedLock {
        manager: root.manager
        resource: "package-test"
        ttl: 5000
    }

    Component.onCompleted: {
        const checks = [
            [lock.state === DistributedLock.Unlocked, "a new lock is Unlocked"],
            [!lock.locked, "a new lock is not locked"],
            [lock.ttl === 5000, "ttl reads back"],
            [manager.serverCount === 1, "one server configured"],
            [manager.quorum === 1, "quorum of one"],
        ];
        let failed = 0;
        for (const [ok, what] of checks) {
            if (!ok) {
                console.log("FAILED: " + what);
                ++failed;
            }
        }
        console.log(failed === 0 ? "qml consumer: ok" : "qml consumer: " + failed + " checks failed");
        root.exitCode = failed === 0 ? 0 : 1;
        quit.start(); // once the runtime has the loaded object: an exit during loading is a failure
    }

    property int exitCode: 1
    Timer {
        id: quit
        interval: 0
        onTriggered: Qt.exit(root.exitCode)
    }
}
