// Run by scripts/package-test with the `qml` runtime against the installed
// qml6-module-qredlock: the module loads, its types are creatable and read as documented.
// Exits 0 when every check passes.
import QtQml
import QRedlock

QtObject {
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
        Qt.exit(failed === 0 ? 0 : 1);
    }
}
