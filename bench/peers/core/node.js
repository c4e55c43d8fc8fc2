// Core peer benchmarks for Node.js, the counterpart of aio.py.
//
// Usage: node bench/peers/core/node.js WORKLOAD [N]
//
// Prints one line per measurement: RESULT <workload> node key=value ...
// CASK_BENCH_QUICK=1 divides the counts by 10 (sleepers take N from the command line).
// Each run measures once; bench/run.sh runs it 3 times and keeps the medians.
'use strict';

const fs = require('fs');

const quick = !['', '0', undefined].includes(process.env.CASK_BENCH_QUICK);
const MILLION = quick ? 100000 : 1000000;

const nowNs = () => process.hrtime.bigint();
const elapsed = (t0) => Number(nowNs() - t0);

function statusKB(field) {
    for (const line of fs.readFileSync('/proc/self/status', 'utf8').split('\n')) {
        if (line.startsWith(field + ':')) return parseInt(line.split(/\s+/)[1], 10);
    }
    throw new Error('no ' + field);
}

function result(workload, kv) {
    const parts = ['RESULT', workload, 'node'];
    for (const [k, v] of Object.entries(kv)) {
        parts.push(`${k}=${Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(3)}`);
    }
    console.log(parts.join(' '));
}

async function empty() {}

// spawn: batches of 1,000 (as every runtime): call a batch of async functions (each returns a
// promise), then await each in turn.
const SPAWN_BATCH = 1000;

async function spawnBatches(batches) {
    const ps = new Array(SPAWN_BATCH);
    for (let b = 0; b < batches; b++) {
        for (let i = 0; i < SPAWN_BATCH; i++) ps[i] = empty();
        for (let i = 0; i < SPAWN_BATCH; i++) await ps[i];
    }
}

async function benchSpawn(n) {
    n = n || MILLION;
    await spawnBatches(1); // warm-up
    const t0 = nowNs();
    await spawnBatches(Math.floor(n / SPAWN_BATCH));
    n = Math.floor(n / SPAWN_BATCH) * SPAWN_BATCH;
    result('spawn', { ns_per_task: elapsed(t0) / n, batch: SPAWN_BATCH });
}

function deferred() {
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    return { promise, resolve };
}

// switch: two async functions hand a one-shot promise back and forth.
async function benchSwitch(n) {
    n = n || MILLION;
    let toB = deferred();
    let toA = null;
    async function a() {
        for (let i = 0; i < n; i++) {
            toA = deferred(); // made before waking b, so b always finds it
            toB.resolve();
            await toA.promise;
        }
    }
    async function b() {
        for (let i = 0; i < n; i++) {
            await toB.promise;
            toB = deferred(); // made before waking a, so a always finds it
            toA.resolve();
        }
    }
    const t0 = nowNs();
    const pb = b();
    const pa = a();
    await pa;
    await pb;
    result('switch', { ns_per_roundtrip: elapsed(t0) / n });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function sleeper() {
    await sleep(2000);
}

// sleepers: n async functions each awaiting a 2 s setTimeout promise at once.
async function benchSleepers(n) {
    n = n || 100000;
    const name = n >= 1000000 ? 'sleepers_1m' : n === 100000 ? 'sleepers_100k' : `sleepers_${n}`;
    const base = statusKB('VmRSS');
    const t0 = nowNs();
    const ps = new Array(n);
    for (let i = 0; i < n; i++) ps[i] = sleeper();
    for (let i = 0; i < n; i++) await ps[i];
    const wall = elapsed(t0);
    const hwm = statusKB('VmHWM');
    result(name, {
        wall_s: wall / 1e9,
        peak_rss_mb: hwm / 1024,
        bytes_per_task: ((hwm - base) * 1024) / n,
    });
}

// timers: n setTimeout callbacks with whole-millisecond delays uniform in [0, 1000) ms
// (Node keeps one list per distinct delay, so whole ms is how Node code sets timers),
// drawn before timing.
function benchTimers(n) {
    n = n || MILLION;
    let seed = 42;
    const rnd = () => { // a small LCG, so every run arms the same delays
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
    };
    const delays = new Array(n);
    for (let i = 0; i < n; i++) delays[i] = Math.floor(rnd() * 1000);
    return new Promise((resolve) => {
        let left = n;
        let t0;
        const fire = () => {
            if (--left === 0) {
                result('timers', { wall_ms: elapsed(t0) / 1e6, arm_ns: armNs });
                resolve();
            }
        };
        t0 = nowNs();
        for (let i = 0; i < n; i++) setTimeout(fire, delays[i]);
        const armNs = elapsed(t0) / n;
    });
}

const WORKLOADS = {
    spawn: benchSpawn,
    switch: benchSwitch,
    sleepers: benchSleepers,
    sleepers_100k: (n) => benchSleepers(n || 100000),
    sleepers_1m: (n) => benchSleepers(n || 1000000),
    timers: benchTimers,
};

const [w, nArg] = process.argv.slice(2);
if (!(w in WORKLOADS)) {
    const names = Object.keys(WORKLOADS).join(' ');
    process.stderr.write(`usage: node.js WORKLOAD [N]\nworkloads: ${names}\n`);
    process.exit(2);
}
WORKLOADS[w](nArg ? parseInt(nArg, 10) : 0).catch((e) => {
    console.error(e);
    process.exit(1);
});
