#!/usr/bin/env bash
# bench/proc.sh: child-process and process-pool benchmarks of cask and its peers (asyncio,
# uvloop, Go, Node.js, libuv), and `cat` as the pipe's yardstick.
#
# usage: bench/proc.sh [--quick] [WORKLOAD...]
#   WORKLOAD: spawn_seq spawn16 spawn_1g pipe procpool (default: all)
#   --quick (or CASK_BENCH_QUICK=1): counts / 10 (pipe 256 MiB), one repetition
#   CASK_BENCH_REPS (3) runs per measurement; CASK_BENCH_LOCK (/tmp/cask-bench.lock)
#
#   spawn_seq  spawn and wait /bin/true 1,000 times, one after another: us_per_proc
#   spawn16    the same with 16 children at once: us_per_proc
#   spawn_1g   spawn_seq (200) after touching 1 GiB of the parent's heap: us_per_proc
#   pipe       a child (head -c 1G /dev/zero) writes 1 GiB to its stdout, the parent reads it
#              to the end: mb_per_s; the row `cat` is `head -c 1G /dev/zero | cat > /dev/null`
#   procpool   64 prime counts on 1, then 2 workers: jobs_per_s (2 workers), speedup;
#              cask and Go count below 200,000, ProcessPoolExecutor below 30,000 (CPython is
#              ~50x slower per count): compare the speed-ups, not the rates
#
# The whole run holds the machine-wide benchmark lock. The medians are printed as RESULT lines on
# stdout and written to build/bench/results-proc.txt; notes go to stderr.
set -u -o pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/build/bench
PEERS=$ROOT/bench/peers/proc
PY=${CASK_BENCH_PYTHON:-/usr/bin/python3}
NODE=${CASK_BENCH_NODE:-node}
GO=${GO:-go}
CC=${CC:-cc}
LOCK=${CASK_BENCH_LOCK:-/tmp/cask-bench.lock}
REPS=${CASK_BENCH_REPS:-3}
ALL="spawn_seq spawn16 spawn_1g pipe procpool"

note() { echo "proc.sh: $*" >&2; }

quick=${CASK_BENCH_QUICK:-0}
[[ $quick == 1 ]] || quick=0
sel=()
for a in "$@"; do
    case $a in
    --quick) quick=1 ;;
    -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    spawn_seq | spawn16 | spawn_1g | pipe | procpool) sel+=("$a") ;;
    *) note "unknown argument $a"; exit 2 ;;
    esac
done
((${#sel[@]})) || read -r -a sel <<<"$ALL"
((quick)) && REPS=1

# count WORKLOAD: the N argument (empty: the program's default)
count() {
    ((quick)) || return 0
    case $1 in
    spawn_seq | spawn16) echo 112 ;;
    spawn_1g) echo 20 ;;
    pipe) echo $((256 << 20)) ;;
    procpool) echo 16 ;;
    esac
}

# the machine-wide lock, held for the whole run (CASK_BENCH_LOCK_HELD=1: a caller holds it)
if [[ ${CASK_BENCH_LOCK_HELD:-0} != 1 ]] && command -v flock >/dev/null; then
    exec 9>>"$LOCK" || { note "cannot open $LOCK"; exit 1; }
    if ! flock -n 9; then
        note "waiting for another benchmark run to finish (lock $LOCK)"
        flock 9 || exit 1
    fi
    export CASK_BENCH_LOCK_HELD=1
fi

mkdir -p "$OUT"
TMP=$(mktemp -d "$OUT/proc.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ---- build and probe -----------------------------------------------------------------------
declare -A have=([cask]=0 [asyncio]=0 [uvloop]=0 [go]=0 [node]=0 [libuv]=0)
if [[ -x $OUT/cask_proc ]] || make -C "$ROOT" -s build/bench/cask_proc >&2; then
    have[cask]=1
fi
if "$PY" -c 'import asyncio' 2>/dev/null; then
    have[asyncio]=1
    "$PY" -c 'import uvloop' 2>/dev/null && have[uvloop]=1 || note "skipping uvloop (python3-uvloop)"
fi
if command -v "$GO" >/dev/null &&
    (cd "$PEERS/go" && GOCACHE=$OUT/gocache GOPATH=$OUT/gopath GOPROXY=off GOFLAGS='' \
        GO111MODULE=on "$GO" build -o "$OUT/peer-go-proc" .) >&2; then
    have[go]=1
else
    note "skipping go"
fi
command -v "$NODE" >/dev/null && have[node]=1 || note "skipping node"
# shellcheck disable=SC2046
if "$CC" -O2 -o "$OUT/peer-libuv-proc" "$PEERS/libuv.c" $(pkg-config --cflags --libs libuv 2>/dev/null || echo -luv) >&2; then
    have[libuv]=1
else
    note "skipping libuv (libuv1-dev)"
fi

# cmd RUNTIME WORKLOAD: the command line, or nothing if that runtime does not run it
cmd() {
    local n
    n=$(count "$2")
    case $1 in
    cask) echo "$OUT/cask_proc $2 $n" ;;
    asyncio) echo "$PY $PEERS/aio.py $2 $n" ;;
    uvloop) [[ $2 == procpool ]] || echo "$PY $PEERS/aio.py $2 --uvloop $n" ;;
    go) echo "$OUT/peer-go-proc $2 $n" ;;
    node) [[ $2 == procpool ]] || echo "$NODE $PEERS/node.js $2 $n" ;;
    libuv) [[ $2 == procpool ]] || echo "$OUT/peer-libuv-proc $2 $n" ;;
    esac
}

# cat_pipe: the yardstick for pipe: a shell pipeline through cat
cat_pipe() {
    local bytes=${1:-1073741824} t0 t1
    t0=$(date +%s.%N)
    head -c "$bytes" /dev/zero | cat >/dev/null
    t1=$(date +%s.%N)
    awk -v b="$bytes" -v a="$t0" -v z="$t1" 'BEGIN { printf "RESULT proc_pipe cat mb_per_s=%.1f\n", b / (z - a) / 1e6 }'
}

raw=$TMP/raw
: >"$raw"
for w in "${sel[@]}"; do
    for ((r = 1; r <= REPS; r++)); do # runtimes interleaved, so drift hits all alike
        for rt in cask asyncio uvloop go node libuv; do
            ((have[$rt])) || continue
            c=$(cmd "$rt" "$w")
            [[ -n $c ]] || continue
            note "$w: $rt ($r/$REPS)"
            # shellcheck disable=SC2086
            if ! timeout 600 $c >>"$raw" 2>"$TMP/err"; then
                note "$w/$rt failed"
                tail -n 5 "$TMP/err" >&2
            fi
        done
        if [[ $w == pipe ]]; then
            cat_pipe "$(count pipe)" >>"$raw"
        fi
    done
done

# medians per (workload, runtime) of every numeric key, in order of first appearance
"$PY" - "$raw" <<'PYEOF' | tee "$OUT/results-proc.txt"
import re, statistics, sys
groups, order = {}, []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 3 or f[0] != "RESULT":
        continue
    g = (f[1], f[2])
    if g not in groups:
        groups[g] = {}
        order.append(g)
    for kv in f[3:]:
        k, _, v = kv.partition("=")
        groups[g].setdefault(k, []).append(v)
for g in order:
    out = []
    for k, vs in groups[g].items():
        try:
            m = statistics.median(float(v) for v in vs)
            out.append(f"{k}={m:.1f}" if m >= 100 else f"{k}={m:.3g}" if m != int(m) else f"{k}={int(m)}")
        except ValueError:
            out.append(f"{k}={vs[0]}")
    print("RESULT", g[0], g[1], " ".join(out))
PYEOF
