// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// node-redlock (redlock@5.0.0-beta.2 over ioredis 5) as one contender of `lockbench
// fair-handoff --peer node`: the same loop as lockbench's fair-handoff-child, with
// node-redlock's defaults (retryCount 10, retryDelay 200 ms, retryJitter 200 ms).
//   want -> acquire -> hold --hold-ms -> release -> wait --again-ms -> want ...
// An acquisition that gives up is asked for again at once. Events are stamped with
// process.hrtime (CLOCK_MONOTONIC on Linux, which lockbench's own children use too), so the
// parent can merge the contenders' timelines.
// Usage: node redlock-handoff.js --urls URL,... --resource NAME --start-at EPOCH_MS
//                                --seconds S --hold-ms MS --again-ms MS
// Prints one JSON line: {"events": [[kind, ns], ...], "splits": -1} (kind w/g/r as the child's).
"use strict";

const Redis = require("ioredis");
const Redlock = require("redlock").default;

function option(name, fallback) {
    const i = process.argv.indexOf("--" + name);
    return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const now = () => Number(process.hrtime.bigint());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
    const urls = option("urls", "").split(",").filter((u) => u);
    const resource = option("resource", "");
    if (urls.length === 0 || !resource) throw new Error("--urls and --resource are required");
    const holdMs = Number(option("hold-ms", 100));
    const againMs = Number(option("again-ms", 50));
    const seconds = Number(option("seconds", 5));
    const startAt = Number(option("start-at", Date.now()));
    const clients = urls.map((u) => new Redis(u, { maxRetriesPerRequest: 1 }));
    await Promise.all(clients.map((c) => c.ping()));
    const redlock = new Redlock(clients, { driftFactor: 0.01 }); // its own retry defaults
    redlock.on("error", () => {}); // a refused vote is reported per attempt; not an error here
    const events = [];
    await sleep(Math.max(0, startAt - Date.now()));
    const end = now() + seconds * 1e9;
    while (now() < end) {
        events.push(["w", now()]);
        let lock;
        try {
            lock = await redlock.acquire([resource], 10000);
        } catch (e) {
            continue; // gave up after its retries: ask again
        }
        events.push(["g", now()]);
        await sleep(holdMs);
        events.push(["r", now()]);
        await lock.release().catch(() => {});
        await sleep(againMs);
    }
    process.stdout.write(JSON.stringify({ events, splits: -1 }) + "\n");
    await Promise.all(clients.map((c) => c.quit()));
}

main().catch((e) => {
    process.stderr.write(`redlock-handoff: ${e && e.stack ? e.stack : e}\n`);
    process.exit(2);
});
