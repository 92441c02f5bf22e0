// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// The dashboard window: a header with the servers' connections, one card per lock.
// Bound: the delegates see only their required properties and this file's ids (qmllint
// checks each access).
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QRedlock

ApplicationWindow {
    id: window
    // From main.cpp (setInitialProperties): the command line, and where to report.
    required property var servers    // a QStringList, as LockManager.servers (qmllint: not list<string>)
    required property list<string> lockNames
    required property int ttl
    required property bool autoAcquire
    required property var reporter   // report(line), allLocked()
    width: 1000
    height: 120 + 170 * window.lockNames.length
    visible: true
    title: qsTr("QRedlock lock dashboard")
    color: "#f4f5f7"

    LockManager {
        id: lockManager
        servers: window.servers
    }

    property int lockedCount: 0
    onLockedCountChanged: if (lockedCount === window.lockNames.length) window.reporter.allLocked()

    header: Rectangle {
        height: 96
        color: "#263238"
        ColumnLayout {
            anchors.fill: parent
            anchors.margins: 12
            spacing: 8
            RowLayout {
                Label {
                    text: qsTr("QRedlock lock dashboard")
                    color: "white"
                    font.pixelSize: 20
                    font.bold: true
                }
                Label {
                    Layout.fillWidth: true
                    text: qsTr("%1 servers · quorum %2 · TTL %3 s").arg(lockManager.serverCount).arg(lockManager.quorum)
                          .arg((window.ttl / 1000).toFixed(1))
                    color: "#b0bec5"
                    font.pixelSize: 14
                }
                Button { text: qsTr("Acquire all"); onClicked: window.cards.forEach(c => c.lock.acquire()) }
                Button { text: qsTr("Release all"); onClicked: window.cards.forEach(c => c.lock.release()) }
            }
            // Each server's connection, as the manager sees it.
            Row {
                spacing: 10
                Repeater {
                    model: lockManager.serverStatus
                    delegate: Rectangle {
                        id: serverChip
                        required property var modelData
                        width: serverText.implicitWidth + 30
                        height: 24
                        radius: 12
                        color: "#37474f"
                        Rectangle {
                            x: 8
                            anchors.verticalCenter: parent.verticalCenter
                            width: 10
                            height: 10
                            radius: 5
                            color: serverChip.modelData.connected ? "#66bb6a" : "#ef5350"
                        }
                        Label {
                            id: serverText
                            x: 24
                            anchors.verticalCenter: parent.verticalCenter
                            text: serverChip.modelData.url + " · " + serverChip.modelData.state.toLowerCase()
                                  + (serverChip.modelData.lastError && !serverChip.modelData.connected
                                     ? " · " + serverChip.modelData.lastError : "")
                            color: "white"
                            font.pixelSize: 12
                        }
                    }
                }
            }
        }
    }

    property var cards: []

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: 12
        spacing: 10
        Repeater {
            model: window.lockNames
            delegate: LockCard {
                id: lockCard
                required property string modelData
                Layout.fillWidth: true
                resource: lockCard.modelData
                manager: lockManager
                ttl: window.ttl
                acquireAtStart: window.autoAcquire
                onLockedChanged: window.lockedCount += lockCard.locked ? 1 : -1
                onMessage: text => window.reporter.report(text)
                Component.onCompleted: window.cards = window.cards.concat([lockCard])
            }
        }
        Item { Layout.fillHeight: true }
    }
}
