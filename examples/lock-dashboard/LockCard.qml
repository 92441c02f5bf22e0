// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// One lock: state badge, live countdown of the remaining validity, fencing token, who else
// holds it (LockManager.inspect()), the last round's answer from each server, and acquire /
// release buttons.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QRedlock

Rectangle {
    id: card
    property alias resource: lock.resource
    property alias manager: lock.manager
    property alias ttl: lock.ttl
    property alias lock: lock
    property bool acquireAtStart: false
    readonly property bool locked: lock.locked
    signal message(string text)

    implicitHeight: 160
    radius: 8
    color: "white"
    border.color: "#dde1e6"

    readonly property var stateNames: ["Unlocked", "Acquiring", "Locked", "Releasing"]
    readonly property var stateColors: ["#78909c", "#f9a825", "#2e7d32", "#6d4c41"]
    readonly property var resultColors: ({ granted: "#2e7d32", refused: "#ef6c00", timeout: "#c62828",
                                           error: "#c62828", pending: "#9e9e9e" })

    DistributedLock {
        id: lock
        autoExtend: autoExtendBox.checked
        fencing: true
        active: card.acquireAtStart
        onAcquired: card.message("locked " + resource + ", fencing token " + fencingToken)
        onAcquireFailed: card.message("not locked " + resource + ": " + errorString)
        onLost: card.message("lost " + resource + ": " + errorString)
        onExpired: card.message("expired " + resource)
        onReleased: card.message("released " + resource)
    }

    // Both are live without polling: remainingValidity notifies every second while more
    // than 10 s are left and every 100 ms below; serverStatus notifies on each server's
    // answer (a round is decided at quorum, the slower servers' answers come after).
    readonly property int remaining: lock.remainingValidity
    // Each entry carries its colour: a delegate reads only its own modelData.
    readonly property var outcomes: card.withColours(lock.serverStatus)
    function withColours(list) {
        return Array.from(list, o => Object.assign({ color: card.resultColors[o.result] || "#9e9e9e" }, o))
    }
    // While we do not hold it: who does, and for how long (an inspection every second).
    property string holderText: ""
    Timer {
        interval: 1000
        repeat: true
        triggeredOnStart: true
        running: !lock.locked && lock.manager !== null && lock.resource.length > 0
        onTriggered: {
            const job = lock.manager.inspect(lock.resource)
            job.finished.connect(function() {
                const info = job.info
                if (info.state === 1) // Held
                    card.holderText = qsTr("held by %1, %2 s left").arg(info.holder.length > 0 ? info.holder : qsTr("another client"))
                                                                    .arg((info.remainingTtl / 1000).toFixed(1))
                else if (info.state === 0)
                    card.holderText = qsTr("free")
                else if (info.state === 2)
                    card.holderText = qsTr("split: no holder on a quorum")
                else
                    card.holderText = qsTr("unknown: %1").arg(info.errorString)
            })
        }
    }
    // The token is printable text; QML sees its bytes as an ArrayBuffer, whose toString() is the text.
    readonly property string tokenText: lock.token.toString()

    RowLayout {
        anchors.fill: parent
        anchors.margins: 14
        spacing: 18

        ColumnLayout {
            Layout.preferredWidth: 190
            Layout.fillWidth: false
            Layout.alignment: Qt.AlignTop
            spacing: 8
            Label {
                text: lock.resource
                font.pixelSize: 20
                font.bold: true
                elide: Text.ElideRight
                Layout.fillWidth: true
            }
            Rectangle {
                implicitWidth: badge.implicitWidth + 24
                implicitHeight: 28
                radius: 14
                color: card.stateColors[lock.state]
                Label {
                    id: badge
                    anchors.centerIn: parent
                    text: card.stateNames[lock.state].toUpperCase()
                    color: "white"
                    font.bold: true
                }
            }
            Label {
                text: lock.fencingToken >= 0 ? qsTr("fencing token %1").arg(lock.fencingToken) : qsTr("no fencing token")
                color: "#37474f"
            }
        }

        ColumnLayout {
            Layout.fillWidth: true
            Layout.alignment: Qt.AlignTop
            spacing: 8
            // The countdown bar: what is left of the validity, against the TTL.
            Rectangle {
                Layout.fillWidth: true
                implicitHeight: 22
                radius: 4
                color: "#eceff1"
                Rectangle {
                    width: parent.width * Math.max(0, Math.min(1, card.remaining / lock.ttl))
                    height: parent.height
                    radius: 4
                    color: card.remaining > lock.ttl / 3 ? "#43a047" : "#fb8c00"
                }
                Label {
                    anchors.centerIn: parent
                    // Whole seconds above 10 s, tenths below: the rates at which remaining changes.
                    text: lock.locked ? qsTr("valid for %1 s").arg((card.remaining / 1000).toFixed(card.remaining > 10000 ? 0 : 1))
                                      : qsTr("not held")
                    color: "#263238"
                }
            }
            Label {
                Layout.fillWidth: true
                text: lock.locked ? qsTr("token %1…").arg(card.tokenText.substring(0, 16)) : card.holderText
                color: "#607d8b"
                font.family: lock.locked ? "monospace" : ""
                elide: Text.ElideRight
            }
            // What each server said in the last round (acquire, extend or release): one row,
            // clipped rather than wrapped.
            Row {
                Layout.fillWidth: true
                clip: true
                spacing: 6
                Repeater {
                    model: card.outcomes
                    delegate: Rectangle {
                        id: chip
                        required property var modelData
                        width: outcome.implicitWidth + 12
                        height: 22
                        radius: 4
                        color: chip.modelData.color
                        Label {
                            id: outcome
                            anchors.centerIn: parent
                            color: "white"
                            font.pixelSize: 11
                            text: chip.modelData.server.replace("redis://", "") + " " + chip.modelData.result
                                  + (chip.modelData.latencyMs >= 0 ? " " + chip.modelData.latencyMs.toFixed(1) + " ms" : "")
                        }
                    }
                }
            }
            Label {
                Layout.fillWidth: true
                visible: lock.errorString.length > 0 && !lock.locked
                text: lock.errorString
                color: "#c62828"
                elide: Text.ElideRight
                // The whole text on hover: a cut-off line hides which server said what.
                HoverHandler { id: errorHover }
                ToolTip.visible: errorHover.hovered
                ToolTip.text: lock.errorString
                ToolTip.delay: 300
            }
        }

        ColumnLayout {
            Layout.alignment: Qt.AlignTop
            Layout.fillWidth: false
            Layout.preferredWidth: 140
            Button {
                text: qsTr("Acquire")
                Layout.fillWidth: true
                enabled: lock.state === DistributedLock.Unlocked
                onClicked: lock.acquire()
            }
            Button {
                text: qsTr("Release")
                Layout.fillWidth: true
                enabled: lock.state === DistributedLock.Locked || lock.state === DistributedLock.Acquiring
                onClicked: lock.release()
            }
            CheckBox {
                id: autoExtendBox
                text: qsTr("auto-extend")
                checked: true
            }
        }
    }
}
