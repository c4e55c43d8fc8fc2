"""Core peer benchmarks for asyncio and uvloop.

Usage: /usr/bin/python3 bench/peers/core/aio.py WORKLOAD [--uvloop] [N]

Prints one line per measurement: RESULT <workload> <asyncio|uvloop> key=value ...
CASK_BENCH_QUICK=1 divides the counts by 10 (sleepers take N from the command line).
Each run measures once; bench/run.sh runs every program 3 times and keeps the medians.
"""

import asyncio
import os
import random
import sys
import time

QUICK = os.environ.get("CASK_BENCH_QUICK", "") not in ("", "0")
MILLION = 100_000 if QUICK else 1_000_000


def now_ns():
    return time.perf_counter_ns()


def proc_status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s in /proc/self/status" % field)


def result(workload, runtime, **kv):
    parts = ["RESULT", workload, runtime]
    for k, v in kv.items():
        if isinstance(v, float):
            v = "%.1f" % v if abs(v) >= 100 else "%.3f" % v
        parts.append("%s=%s" % (k, v))
    print(" ".join(parts), flush=True)


async def empty():
    pass


# spawn: batches of 1,000 (as every runtime): create a batch of tasks, then await each in turn.
SPAWN_BATCH = 1000


async def spawn_batches(batches):
    create = asyncio.create_task
    for _ in range(batches):
        tasks = [create(empty()) for _ in range(SPAWN_BATCH)]
        for t in tasks:
            await t


async def bench_spawn(rt, n):
    n = n or MILLION
    await spawn_batches(1)  # warm-up
    t0 = now_ns()
    await spawn_batches(n // SPAWN_BATCH)
    dt = now_ns() - t0
    n = n // SPAWN_BATCH * SPAWN_BATCH
    result("spawn", rt, ns_per_task=dt / n, batch=SPAWN_BATCH)


# switch: two tasks hand a one-shot future back and forth.
async def bench_switch(rt, n):
    n = n or MILLION
    loop = asyncio.get_running_loop()
    to_b = loop.create_future()
    to_a = None

    async def a():
        nonlocal to_a
        for _ in range(n):
            to_a = loop.create_future()  # made before waking b, so b always finds it
            to_b.set_result(None)
            await to_a

    async def b():
        nonlocal to_b
        for _ in range(n):
            await to_b
            to_b = loop.create_future()  # made before waking a, so a always finds it
            to_a.set_result(None)

    t0 = now_ns()
    tb = asyncio.create_task(b())
    ta = asyncio.create_task(a())
    await ta
    await tb
    dt = now_ns() - t0
    result("switch", rt, ns_per_roundtrip=dt / n)


async def sleeper():
    await asyncio.sleep(2)


# sleepers: n tasks sleeping 2 s at once; memory from /proc/self/status.
async def bench_sleepers(rt, n):
    n = n or 100_000
    name = "sleepers_1m" if n >= 1_000_000 else "sleepers_100k" if n == 100_000 else \
        "sleepers_%d" % n
    base_kb = proc_status_kb("VmRSS")
    t0 = now_ns()
    tasks = [asyncio.create_task(sleeper()) for _ in range(n)]
    for t in tasks:
        await t
    dt = now_ns() - t0
    hwm_kb = proc_status_kb("VmHWM")
    result(name, rt, wall_s=dt / 1e9, peak_rss_mb=hwm_kb / 1024.0,
           bytes_per_task=(hwm_kb - base_kb) * 1024.0 / n)


# timers: n call_later callbacks, delays uniform in [0, 1) s, drawn before timing.
async def bench_timers(rt, n):
    n = n or MILLION
    loop = asyncio.get_running_loop()
    rng = random.Random(42)
    delays = [rng.random() for _ in range(n)]
    done = loop.create_future()
    left = n

    def fire():
        nonlocal left
        left -= 1
        if left == 0:
            done.set_result(now_ns())

    call_later = loop.call_later
    t0 = now_ns()
    for d in delays:
        call_later(d, fire)
    t1 = now_ns()
    t_end = await done
    result("timers", rt, wall_ms=(t_end - t0) / 1e6, arm_ns=(t1 - t0) / n)


# group: n empty tasks spawned into one TaskGroup, joined by leaving the block.
async def bench_group(rt, n):
    n = n or MILLION
    t0 = now_ns()
    async with asyncio.TaskGroup() as tg:
        for _ in range(n):
            tg.create_task(empty())
    dt = now_ns() - t0
    result("group", rt, ns_per_task=dt / n)


# lockK: lock hand-off. K tasks, each loops: acquire, yield once while holding it (so the
# others queue up and every release hands the lock to a waiter), release; n pairs in all.
async def bench_lock(rt, n, k):
    n = n or MILLION
    lock = asyncio.Lock()
    per = n // k

    async def worker():
        for _ in range(per):
            async with lock:
                await asyncio.sleep(0)

    t0 = now_ns()
    tasks = [asyncio.create_task(worker()) for _ in range(k)]
    for t in tasks:
        await t
    dt = now_ns() - t0
    result("lock%d" % k, rt, ns_per_op=dt / (per * k))


# queueC: one producer -> one consumer through asyncio.Queue(maxsize=C).
async def bench_queue(rt, n, cap):
    n = n or MILLION
    q = asyncio.Queue(maxsize=cap)

    async def producer():
        put = q.put
        for i in range(n):
            await put(i)

    async def consumer():
        get = q.get
        for _ in range(n):
            await get()

    t0 = now_ns()
    tc = asyncio.create_task(consumer())
    tp = asyncio.create_task(producer())
    await tp
    await tc
    dt = now_ns() - t0
    result("queue%d" % cap, rt, items_per_s=n / (dt / 1e9))


# sem100: n tasks, each acquires a Semaphore(100), yields once, releases.
async def bench_sem(rt, n):
    n = n or MILLION
    sem = asyncio.Semaphore(100)

    async def worker():
        async with sem:
            await asyncio.sleep(0)

    t0 = now_ns()
    tasks = [asyncio.create_task(worker()) for _ in range(n)]
    for t in tasks:
        await t
    dt = now_ns() - t0
    result("sem100", rt, ns_per_task=dt / n)


WORKLOADS = {
    "spawn": bench_spawn,
    "switch": bench_switch,
    "sleepers": bench_sleepers,
    "sleepers_100k": lambda rt, n: bench_sleepers(rt, n or 100_000),
    "sleepers_1m": lambda rt, n: bench_sleepers(rt, n or 1_000_000),
    "timers": bench_timers,
    "group": bench_group,
    "lock2": lambda rt, n: bench_lock(rt, n, 2),
    "lock100": lambda rt, n: bench_lock(rt, n, 100),
    "queue1": lambda rt, n: bench_queue(rt, n, 1),
    "queue1024": lambda rt, n: bench_queue(rt, n, 1024),
    "sem100": bench_sem,
}


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    flags = [a for a in argv[1:] if a.startswith("--")]
    if not args or args[0] not in WORKLOADS or set(flags) - {"--uvloop"}:
        sys.stderr.write("usage: aio.py WORKLOAD [--uvloop] [N]\nworkloads: %s\n"
                         % " ".join(WORKLOADS))
        return 2
    n = int(args[1]) if len(args) > 1 else 0
    rt = "asyncio"
    factory = None
    if "--uvloop" in flags:
        import uvloop
        rt = "uvloop"
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(WORKLOADS[args[0]](rt, n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
