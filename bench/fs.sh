#!/usr/bin/env bash
# The file benchmarks: cask (on its default backend, io_uring where available, and on epoll with
# worker threads), asyncio (to_thread), libuv (uv_fs_*), Go (os.File), Node.js (fs.promises),
# and fio as the physical limit. Each workload on the disk (a directory under build/, whose
# pages are dropped from the cache before each run) and on tmpfs (/dev/shm). Every program runs
# REPS times (3; 1 with --quick) and the median is printed as RESULT lines (stdout and
# build/bench/fs_results.txt). Take the machine-wide lock: flock /tmp/cask-bench.lock bench/fs.sh
#
# usage: bench/fs.sh [--quick] [randread1 randread64 seqread smallfiles append ...]
# environment: CASK_FS_SIZE_MB (1024; 256 with --quick), CASK_FS_SECONDS (1), CASK_BENCH_REPS
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/build/bench
PEERS=$ROOT/bench/peers/fs
REPS=${CASK_BENCH_REPS:-3}
SIZE_MB=${CASK_FS_SIZE_MB:-1024}
export CASK_FS_SECONDS=${CASK_FS_SECONDS:-1}
note() { echo "fs.sh: $*" >&2; }
workloads=()
for a in "$@"; do
    case $a in
    --quick) REPS=1 SIZE_MB=${CASK_FS_SIZE_MB:-256} ;;
    *) workloads+=("$a") ;;
    esac
done
((${#workloads[@]})) || workloads=(randread1 randread64 seqread smallfiles append)

mkdir -p "$OUT"
make -s -C "$ROOT" "build/bench/cask_fs" >/dev/null || { note "cannot build cask_fs"; exit 1; }
CC=${CC:-cc}
$CC -O2 -o "$OUT/libuv_fs" "$PEERS/libuv_fs.c" -luv 2>/dev/null || note "no libuv: skipped"
(cd "$PEERS" && GOFLAGS=-mod=mod go build -o "$OUT/go_fs" go_fs.go 2>/dev/null) || note "no Go: skipped"

DISK=$OUT/fsdata
TMPFS=/dev/shm/cask_fs_bench
trap 'rm -rf "$TMPFS"' EXIT

prepare() { # DIR: the big file and 10,000 small ones, once
    local d=$1
    mkdir -p "$d/small"
    if [[ ! -f $d/big || $(stat -c %s "$d/big") != $((SIZE_MB << 20)) ]]; then
        note "writing $d/big ($SIZE_MB MiB)"
        head -c $((SIZE_MB << 20)) /dev/urandom >"$d/big"
    fi
    if [[ ! -f $d/small/9999 ]]; then
        python3 -c "
import os, sys
for i in range(10000):
    with open(f'{sys.argv[1]}/small/{i}', 'wb') as f: f.write(os.urandom(4096))" "$d"
    fi
}

dropcache() { # DIR WORKLOAD: the files it reads out of the page cache (disk only)
    python3 -c "
import os, sys
d, w = sys.argv[1:3]
paths = {'smallfiles': [f'{d}/small/{i}' for i in range(10000)], 'append': []}.get(w, [f'{d}/big'])
for p in paths:
    fd = os.open(p, os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)" "$1" "$2"
}

fio_run() { # WORKLOAD DIR WHERE: fio's io_uring engine (and plain pread on tmpfs)
    local w=$1 d=$2 where=$3 args=() engines=(io_uring)
    [[ $where == tmpfs ]] && engines+=(psync)
    case $w in
    randread1) args=(--rw=randread --bs=4k --iodepth=1) ;;
    randread64) args=(--rw=randread --bs=4k --iodepth=64) ;;
    seqread) args=(--rw=read --bs=1m --iodepth=1) ;;
    # a file that grows with each write, as the others' appends do (no preallocated file to
    # overwrite: --size is only a cap it never reaches in the time given)
    append) args=(--rw=write --bs=4k --fdatasync=1 --filename="$d/append.fio" --size=8g
                  --fallocate=none) engines=(io_uring) ;;
    *) return ;;
    esac
    [[ $w != append ]] && args+=(--filename="$d/big" --invalidate=$([[ $where == disk ]] && echo 1 || echo 0))
    for e in "${engines[@]}"; do
        [[ $e == psync && $w == randread64 ]] && continue # pread has no queue depth
        local eng=$e
        [[ $w == append ]] && eng=sync
        # --fadvise_hint=0: fio would otherwise tell the kernel POSIX_FADV_RANDOM for random
        # reads (no readahead), a hint no other program here gives
        fio --name=f --ioengine=$eng --fadvise_hint=0 "${args[@]}" --time_based --runtime="$CASK_FS_SECONDS" \
            --output-format=json 2>/dev/null | python3 -c "
import json, sys
j = json.load(sys.stdin)['jobs'][0]
w, where, e = sys.argv[1:4]
r = j['write'] if w == 'append' else j['read']
name = {'randread1': 'randread_qd1', 'randread64': 'randread_qd64'}.get(w, w)
if w == 'append': name = 'append_fsync'
peer = 'fio' if e == 'io_uring' else 'fio_pread'
if w == 'seqread': print(f'RESULT fs_{name}_{where} {peer} mb_s={r[\"bw_bytes\"] / 1e6:.0f}')
elif w == 'append': print(f'RESULT fs_{name}_{where} {peer} ops_s={r[\"iops\"]:.0f}')
else: print(f'RESULT fs_{name}_{where} {peer} iops={r[\"iops\"]:.0f}')" "$w" "$where" "$e"
        rm -f "$d/append.fio"
    done
}

median() { # RESULT lines on stdin -> the median of each numeric key per (workload, peer)
    python3 -c "
import sys, statistics, collections
rows = collections.OrderedDict()
for line in sys.stdin:
    p = line.split()
    if len(p) < 4 or p[0] != 'RESULT': continue
    rows.setdefault((p[1], p[2]), []).append(dict(kv.split('=', 1) for kv in p[3:]))
for (w, peer), runs in rows.items():
    out = []
    for k in runs[0]:
        vals = [r[k] for r in runs if k in r]
        try: out.append(f'{k}={statistics.median(float(v) for v in vals):.0f}')
        except ValueError: out.append(f'{k}={vals[0]}')
    print('RESULT', w, peer, ' '.join(out))"
}

PY=${CASK_BENCH_PYTHON:-/usr/bin/python3}
: >"$OUT/fs_results.txt"
for where in disk tmpfs; do
    d=$DISK
    [[ $where == tmpfs ]] && d=$TMPFS
    prepare "$d"
    for w in "${workloads[@]}"; do
        raw=$(mktemp)
        progs=("$OUT/cask_fs" "epoll:$OUT/cask_fs" "$PY $PEERS/aio_fs.py"
               "$OUT/libuv_fs" "$OUT/go_fs" "node $PEERS/node_fs.js" fio)
        for ((r = 1; r <= REPS; r++)); do
            # each round starts with a different program: on this virtual machine the first
            # run after a pause may be slow for reasons outside it (the host maps memory the
            # guest gave back), and no program should always be the one that pays for it
            for ((i = 0; i < ${#progs[@]}; i++)); do
                p=${progs[(i + r - 1) % ${#progs[@]}]}
                if [[ $p == fio ]]; then
                    [[ $where == disk ]] && dropcache "$d" "$w"
                    command -v fio >/dev/null && fio_run "$w" "$d" "$where" >>"$raw"
                    continue
                fi
                env=()
                if [[ $p == epoll:* ]]; then
                    p=${p#epoll:}
                    env=(CASK_BACKEND=epoll)
                fi
                [[ $p == */libuv_fs || $p == node* ]] && env+=(UV_THREADPOOL_SIZE=64)
                [[ $where == disk ]] && dropcache "$d" "$w"
                # shellcheck disable=SC2086
                out=$(env "${env[@]}" timeout 120 $p "$w" "$d" "$where" 2>&1) || note "$p $w $where failed: $out"
                if [[ ${env[0]:-} == CASK_BACKEND=epoll ]]; then
                    out=${out// cask / cask_epoll }
                fi
                grep '^RESULT' <<<"$out" >>"$raw"
            done
        done
        median <"$raw" | tee -a "$OUT/fs_results.txt"
        rm -f "$raw"
    done
done
