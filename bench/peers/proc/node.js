// Process benchmarks for Node.js (bench/proc.sh).
//
// usage: node node.js WORKLOAD [N]
//   spawn_seq [N]  child_process.spawn('/bin/true') and its 'exit', N (1000) times in turn
//   spawn16 [N]    the same, 16 at once
//   spawn_1g [N]   spawn_seq (200) with 1 GiB of memory touched first (a Buffer outside the
//                  JS heap, which Node's default heap limit would not allow)
//   pipe [BYTES]   a child writes BYTES (1 GiB) of zeros to stdout; 'data' events counted
// Children get /dev/null as stdin, stdout and stderr (stdio 'ignore'), except the pipe.
'use strict';
const { spawn } = require('child_process');

function spawnWait() {
  return new Promise((resolve, reject) => {
    const p = spawn('/bin/true', [], { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error('exit ' + code))));
  });
}

async function main() {
  const w = process.argv[2];
  let n = process.argv[3] ? Number(process.argv[3]) : 0;
  const t0 = process.hrtime.bigint();
  const secs = () => Number(process.hrtime.bigint() - t0) / 1e9;
  if (w === 'spawn_seq' || w === 'spawn_1g') {
    n = n || (w === 'spawn_1g' ? 200 : 1000);
    let heap = null;
    if (w === 'spawn_1g') heap = Buffer.alloc(1 << 30, 1);
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await spawnWait();
    const dt = Number(process.hrtime.bigint() - t1) / 1e9;
    console.log(`RESULT proc_${w} node us_per_proc=${((dt * 1e6) / n).toFixed(1)}`);
    if (heap) heap[0] = 2;
  } else if (w === 'spawn16') {
    n = n || 1000;
    const each = Math.floor(n / 16);
    const worker = async () => { for (let i = 0; i < each; i++) await spawnWait(); };
    await Promise.all(Array.from({ length: 16 }, worker));
    console.log(`RESULT proc_spawn16 node us_per_proc=${((secs() * 1e6) / (each * 16)).toFixed(1)}`);
  } else if (w === 'pipe') {
    n = n || 2 ** 30;
    let total = 0;
    const p = spawn('head', ['-c', String(n), '/dev/zero'], { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.on('data', (b) => { total += b.length; });
    await new Promise((resolve) => p.on('close', resolve));
    if (total !== n) throw new Error('short read ' + total);
    console.log(`RESULT proc_pipe node mb_per_s=${(n / secs() / 1e6).toFixed(1)}`);
  } else {
    console.error('unknown workload ' + w);
    process.exit(2);
  }
}
main();
