"""The file benchmarks in asyncio, at its best: asyncio has no file I/O, so every call goes
through asyncio.to_thread (the documented way), with a thread pool as large as the queue depth
(64 workers instead of the default min(32, cpu + 4)) so that depth 64 really has 64 reads in
flight. Same work as bench/cask_fs.c.   usage: aio_fs.py WORKLOAD DIR WHERE"""
import asyncio, os, sys, time
from concurrent.futures import ThreadPoolExecutor

SECONDS = float(os.environ.get("CASK_FS_SECONDS", "1"))


def lcg(s):
    s = (s * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
    return s, s >> 33


async def main(workload, d, where):
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(64))
    ops = 0
    if workload.startswith("randread"):
        qd = int(workload[8:])
        fd = os.open(f"{d}/big", os.O_RDONLY)
        nblocks = os.fstat(fd).st_size // 4096
        t0 = time.monotonic()
        deadline = t0 + SECONDS

        async def reader(i):
            nonlocal ops
            seed = i * 7919 + 1
            while time.monotonic() < deadline:
                seed, r = lcg(seed)
                b = await asyncio.to_thread(os.pread, fd, 4096, (r % nblocks) * 4096)
                assert len(b) == 4096
                ops += 1

        await asyncio.gather(*(reader(i) for i in range(qd)))
        dt = time.monotonic() - t0
        print(f"RESULT fs_randread_qd{qd}_{where} asyncio iops={ops / dt:.0f}")
        os.close(fd)
    elif workload == "seqread":
        fd = os.open(f"{d}/big", os.O_RDONLY)
        t0 = time.monotonic()
        total = 0
        while True:
            b = await asyncio.to_thread(os.read, fd, 1 << 20)
            if not b:
                break
            total += len(b)
        dt = time.monotonic() - t0
        print(f"RESULT fs_seqread_{where} asyncio mb_s={total / dt / 1e6:.0f}")
        os.close(fd)
    elif workload == "smallfiles":
        nxt = 0

        def one(path):
            fd = os.open(path, os.O_RDONLY)
            while os.read(fd, 8192):
                pass
            os.close(fd)

        async def worker():
            nonlocal nxt, ops
            while nxt < 10000:
                i = nxt
                nxt += 1
                # open, read and close in one trip to a thread: asyncio's best
                await asyncio.to_thread(one, f"{d}/small/{i}")
                ops += 1

        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(64)))
        dt = time.monotonic() - t0
        print(f"RESULT fs_smallfiles_{where} asyncio files_s={ops / dt:.0f}")
    elif workload == "append":
        path = f"{d}/append.aio"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        buf = b"a" * 4096
        t0 = time.monotonic()
        deadline = t0 + SECONDS
        while time.monotonic() < deadline:
            await asyncio.to_thread(os.write, fd, buf)
            await asyncio.to_thread(os.fdatasync, fd)
            ops += 1
        dt = time.monotonic() - t0
        print(f"RESULT fs_append_fsync_{where} asyncio ops_s={ops / dt:.0f}")
        os.close(fd)
        os.unlink(path)


asyncio.run(main(*sys.argv[1:4]))
