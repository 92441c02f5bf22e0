// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// A distributed lock and a singleton job, declared in QML. Run it with the `qml` runtime
// against three servers (or set QREDLOCK_SERVERS and pass no URLs):
//
//   QT_QPA_PLATFORM=offscreen QML_IMPORT_PATH=<build>/qml /usr/lib/qt6/bin/qml examples/qml/singleton.qml -- \
//       redis://127.0.0.1:7001 redis://127.0.0.1:7002 redis://127.0.0.1:7003 [--name A] [--quit-after 10000]
//
// Start it two or three times: one instance holds the lock and, once per period, one of
// them runs the job; the others say they were skipped. (The root is an Item because the
// Qt 6.4 `qml` runtime exits at once when a file creates no visual object.)
import QtQml
import QtQuick
import QRedlock

Item {
    id: root

    // Everything after "--" on the command line.
    readonly property var args: {
        const all = Qt.application.arguments
        const dashes = all.indexOf("--")
        return dashes < 0 ? [] : all.slice(dashes + 1)
    }
    readonly property var servers: args.filter(a => /^(redis|rediss|unix):\/\//.test(a))
    readonly property string name: option("--name", "qml-" + Math.floor(Math.random() * 1000))
    readonly property int quitAfter: Number(option("--quit-after", "0"))

    function option(flag, fallback) {
        const i = args.indexOf(flag)
        return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback
    }
    function say(text) { console.log(name + ": " + text) }

    // With no URLs on the command line, the lock and the job use the default manager
    // (QREDLOCK_SERVERS).
    LockManager {
        id: servers3
        servers: root.servers
    }
    readonly property LockManager manager: servers.length > 0 ? servers3 : null

    DistributedLock {
        manager: root.manager
        resource: "qml-demo:lock"
        ttl: 4000
        autoExtend: true
        active: true
        onAcquired: root.say("lock acquired (valid for " + remainingValidity + " ms, auto-extended)")
        onAcquireFailed: root.say("lock not acquired: " + errorString)
        onLost: root.say("lock LOST: " + errorString)
        onExpired: root.say("lock EXPIRED")
        onReleased: root.say("lock released")
    }

    SingletonJob {
        id: job
        manager: root.manager
        resource: "qml-demo:job"
        oncePerPeriod: 3000    // at most one run per 3 s period, across all instances
        interval: 1000         // and a retry every second within the period
        lockAtMostFor: 5000
        lockAtLeastFor: 500
        active: true
        onRun: {
            root.say("job runs")
            work.start()
        }
        onFinished: root.say("job finished")
        onFailed: reason => root.say("job failed: " + reason)
        onCancelled: {
            work.stop()
            root.say("job CANCELLED: " + errorString)
        }
        onSkipped: root.say("job skipped: " + errorString)
    }

    // The job's "work": one second, then finish().
    Timer {
        id: work
        interval: 1000
        onTriggered: job.finish()
    }

    Timer {
        interval: root.quitAfter
        running: root.quitAfter > 0
        onTriggered: {
            root.say("quitting")
            Qt.quit()
        }
    }
}
