"""Process benchmarks for asyncio and uvloop (bench/proc.sh).

usage: aio.py WORKLOAD [--uvloop] [N]
  spawn_seq [N]  create_subprocess_exec('/bin/true') + wait, N (1000) times one after another
  spawn16 [N]    the same, 16 at once
  spawn_1g [N]   spawn_seq (200) with 1 GiB of the heap touched first
  pipe [BYTES]   a child writes BYTES (1 GiB) of zeros to stdout, counted by a protocol
  procpool [N]   N (64) prime counts below 30,000 on a ProcessPoolExecutor of 1, then 2
                 workers via run_in_executor: jobs/s with 2 and the speed-up over 1
Children get /dev/null as stdin, stdout and stderr (except the pipe's stdout).
"""
import asyncio, sys, time
from concurrent.futures import ProcessPoolExecutor

DEVNULL = asyncio.subprocess.DEVNULL
PRIME_LIMIT = 30000


def count_primes(limit):
    count = 0
    for n in range(2, limit):
        if all(n % d for d in range(2, int(n ** 0.5) + 1)):
            count += 1
    return count


async def spawn_wait():
    p = await asyncio.create_subprocess_exec("/bin/true", stdin=DEVNULL, stdout=DEVNULL,
                                             stderr=DEVNULL)
    return await p.wait()


async def spawn_seq(n):
    for _ in range(n):
        if await spawn_wait() != 0:
            raise RuntimeError("child failed")


async def spawn16(n):
    async def worker(k):
        for _ in range(k):
            await spawn_wait()
    await asyncio.gather(*(worker(n // 16) for _ in range(16)))


class Count(asyncio.SubprocessProtocol):
    """Counts stdout's bytes as they arrive (the protocol layer: asyncio at its fastest)."""

    def __init__(self, done):
        self.total, self.done = 0, done

    def pipe_data_received(self, fd, data):
        self.total += len(data)

    def process_exited(self):
        self.done.set_result(None)


async def pipe(nbytes):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    tr, proto = await loop.subprocess_exec(lambda: Count(done), "head", "-c", str(nbytes),
                                           "/dev/zero", stdin=None, stderr=None)
    await done
    # process_exited may come before the last data: wait for the pipe to close too
    while proto.total < nbytes and not tr.is_closing():
        await asyncio.sleep(0.001)
    tr.close()
    assert proto.total == nbytes, proto.total


async def pool_time(workers, jobs):
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        await asyncio.gather(*(loop.run_in_executor(pool, count_primes, 2) for _ in range(workers)))
        t0 = time.perf_counter()
        r = await asyncio.gather(*(loop.run_in_executor(pool, count_primes, PRIME_LIMIT)
                                   for _ in range(jobs)))
        dt = time.perf_counter() - t0
    assert all(x == 3245 for x in r)
    return dt


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    uv = "--uvloop" in sys.argv
    w = args[0]
    n = int(args[1]) if len(args) > 1 else None
    rt = "uvloop" if uv else "asyncio"
    if uv:
        import uvloop
        run = lambda c: asyncio.Runner(loop_factory=uvloop.new_event_loop).run(c)
    else:
        run = asyncio.run
    if w in ("spawn_seq", "spawn_1g"):
        n = n or (200 if w == "spawn_1g" else 1000)
        heap = bytearray(1 << 30) if w == "spawn_1g" else None  # zero-filled: every page touched
        if heap is not None:
            for i in range(0, len(heap), 4096):
                heap[i] = 1
        t0 = time.perf_counter()
        run(spawn_seq(n))
        print(f"RESULT proc_{w} {rt} us_per_proc={(time.perf_counter() - t0) * 1e6 / n:.1f}")
    elif w == "spawn16":
        n = n or 1000
        t0 = time.perf_counter()
        run(spawn16(n))
        print(f"RESULT proc_spawn16 {rt} us_per_proc="
              f"{(time.perf_counter() - t0) * 1e6 / (n // 16 * 16):.1f}")
    elif w == "pipe":
        n = n or (1 << 30)
        t0 = time.perf_counter()
        run(pipe(n))
        print(f"RESULT proc_pipe {rt} mb_per_s={n / (time.perf_counter() - t0) / 1e6:.1f}")
    elif w == "procpool":
        n = n or 64
        t1 = run(pool_time(1, n))
        t2 = run(pool_time(2, n))
        print(f"RESULT procpool {rt} jobs_per_s={n / t2:.1f} speedup={t1 / t2:.2f} "
              f"one_worker_jobs_per_s={n / t1:.1f} limit={PRIME_LIMIT}")
    else:
        sys.exit("unknown workload " + w)


if __name__ == "__main__":
    main()
