// The file benchmarks in Node.js, at its best: fs.promises FileHandle calls, with libuv's
// thread pool sized to the queue depth (UV_THREADPOOL_SIZE=64, set by bench/fs.sh) so depth
// 64 has 64 reads in flight. Same work as bench/cask_fs.c.  usage: node node_fs.js WORKLOAD DIR WHERE
'use strict';
const fsp = require('fs').promises;
const [workload, dir, where] = process.argv.slice(2);
const SECONDS = parseFloat(process.env.CASK_FS_SECONDS || '1');
const now = () => Number(process.hrtime.bigint()) / 1e9;

function lcg(s) {
  s = (s * 6364136223846793005n + 1442695040888963407n) & 0xFFFFFFFFFFFFFFFFn;
  return s;
}

async function main() {
  let ops = 0;
  if (workload.startsWith('randread')) {
    const qd = parseInt(workload.slice(8));
    const fh = await fsp.open(`${dir}/big`, 'r');
    const nblocks = BigInt((await fh.stat()).size / 4096);
    const t0 = now(), deadline = t0 + SECONDS;
    const reader = async (i) => {
      let seed = BigInt(i * 7919 + 1);
      const buf = Buffer.alloc(4096);
      while (now() < deadline) {
        seed = lcg(seed);
        const off = Number((seed >> 33n) % nblocks) * 4096;
        const { bytesRead } = await fh.read(buf, 0, 4096, off);
        if (bytesRead !== 4096) throw new Error('short read');
        ops++;
      }
    };
    await Promise.all(Array.from({ length: qd }, (_, i) => reader(i)));
    const dt = now() - t0;
    console.log(`RESULT fs_randread_qd${qd}_${where} node iops=${(ops / dt).toFixed(0)}`);
    await fh.close();
  } else if (workload === 'seqread') {
    const fh = await fsp.open(`${dir}/big`, 'r');
    const buf = Buffer.alloc(1 << 20);
    const t0 = now();
    let total = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (!bytesRead) break;
      total += bytesRead;
    }
    const dt = now() - t0;
    console.log(`RESULT fs_seqread_${where} node mb_s=${(total / dt / 1e6).toFixed(0)}`);
    await fh.close();
  } else if (workload === 'smallfiles') {
    let next = 0;
    const worker = async () => {
      const buf = Buffer.alloc(8192);
      while (next < 10000) {
        const fh = await fsp.open(`${dir}/small/${next++}`, 'r');
        while ((await fh.read(buf, 0, buf.length, null)).bytesRead > 0);
        await fh.close();
        ops++;
      }
    };
    const t0 = now();
    await Promise.all(Array.from({ length: 64 }, worker));
    const dt = now() - t0;
    console.log(`RESULT fs_smallfiles_${where} node files_s=${(ops / dt).toFixed(0)}`);
  } else if (workload === 'append') {
    const path = `${dir}/append.node`;
    const fh = await fsp.open(path, 'a');
    const buf = Buffer.alloc(4096, 97);
    const t0 = now(), deadline = t0 + SECONDS;
    while (now() < deadline) {
      await fh.write(buf);
      await fh.datasync();
      ops++;
    }
    const dt = now() - t0;
    console.log(`RESULT fs_append_fsync_${where} node ops_s=${(ops / dt).toFixed(0)}`);
    await fh.close();
    await fsp.unlink(path);
  }
}
main();
