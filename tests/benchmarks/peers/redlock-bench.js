// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

// node-redlock (redlock@5.0.0-beta.2 over ioredis 5) doing the work lockbench does:
//   latency:    one lock at a time, acquire then release; the acquire time is recorded
//   throughput: K locks in flight on distinct resources, acquire+release cycles per second
// Usage: node redlock-bench.js --urls redis://127.0.0.1:P1,... [--samples 5000] [--warmup 300]
//                              [--inflight 64] [--seconds 3] [--no-latency] [--no-throughput]
// Prints one JSON line, in the shape lockbench's own results use.
"use strict";

const Redis = require("ioredis");
const Redlock = require("redlock").default;

function option(name, fallback) {
    const i = process.argv.indexOf("--" + name);
    return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function summary(ns) {
    const s = Float64Array.from(ns).sort();
    const pct = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))] / 1000;
    const sum = s.reduce((a, b) => a + b, 0);
    return {
        samples: s.length,
        p50_us: pct(0.5), p90_us: pct(0.9), p99_us: pct(0.99),
        min_us: s[0] / 1000, max_us: s[s.length - 1] / 1000, mean_us: sum / s.length / 1000,
    };
}

async function latency(redlock, samples, warmup) {
    const resource = `lockbench:node:latency:${process.pid}`;
    const out = [];
    for (let i = -warmup; i < samples; ++i) {
        const t0 = process.hrtime.bigint();
        const lock = await redlock.acquire([resource], 10000);
        const dt = Number(process.hrtime.bigint() - t0);
        if (i >= 0) out.push(dt);
        await lock.release();
    }
    return summary(out);
}

// CPU seconds (user + system) the servers have used so far, from INFO cpu.
async function serversCpu(clients) {
    const infos = await Promise.all(clients.map((c) => c.info("cpu")));
    let total = 0;
    for (const info of infos) {
        for (const m of info.matchAll(/^used_cpu_(sys|user):([\d.]+)/gm)) total += Number(m[2]);
    }
    return total;
}

async function throughput(redlock, clients, inflight, seconds) {
    let cycles = 0;
    let failures = 0;
    let stop = false;
    const worker = async (w) => {
        const resource = `lockbench:node:tp:${process.pid}:${w}`;
        while (!stop) {
            try {
                const lock = await redlock.acquire([resource], 10000);
                await lock.release();
                ++cycles;
            } catch (e) {
                if (++failures > 1000) throw e;
            }
        }
    };
    const workers = [];
    for (let w = 0; w < inflight; ++w) workers.push(worker(w));
    await new Promise((r) => setTimeout(r, 500)); // warm-up
    const c0 = cycles;
    const cpu0 = process.cpuUsage();
    const server0 = await serversCpu(clients);
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const c1 = cycles;
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const server1 = await serversCpu(clients);
    stop = true;
    await Promise.all(workers);
    return {
        inflight, cycles_per_s: (c1 - c0) / wall,
        cpu_percent: (100 * (cpu.user + cpu.system)) / 1e6 / wall,
        server_cpu_percent: (100 * (server1 - server0)) / wall, failures,
    };
}

async function main() {
    const urls = option("urls", "").split(",").filter((u) => u);
    if (urls.length === 0) throw new Error("--urls is required");
    const clients = urls.map((u) => new Redis(u, { maxRetriesPerRequest: 1 }));
    await Promise.all(clients.map((c) => c.ping()));
    const redlock = new Redlock(clients, { retryCount: 0, driftFactor: 0.01 });
    const result = { mode: "node-redlock", servers: urls.length, node: process.version };
    if (!process.argv.includes("--no-latency"))
        result.acquire = await latency(redlock, Number(option("samples", 5000)), Number(option("warmup", 300)));
    if (!process.argv.includes("--no-throughput"))
        result.throughput = await throughput(redlock, clients, Number(option("inflight", 64)), Number(option("seconds", 3)));
    process.stdout.write(JSON.stringify(result) + "\n");
    await Promise.all(clients.map((c) => c.quit()));
}

main().catch((e) => {
    process.stderr.write(`redlock-bench: ${e && e.stack ? e.stack : e}\n`);
    process.exit(2);
});
