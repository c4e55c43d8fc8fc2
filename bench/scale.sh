#!/usr/bin/env bash
# Scale curves: N tasks sleeping 2 s at once, for N = 10k, 100k, 1M, in cask (ordinary
# tasks), cask_compact (compact tasks), Go (goroutines) and Node.js (async functions). For each: wall time and bytes per
# task (peak RSS growth / N). Every run takes the machine-wide benchmark lock; each point is
# the median of REPS runs. Results go to build/bench/scale.txt; bench/scale_svg.py draws
# docs/scale.svg and prints the table for docs/benchmarks.md.
#
# The sizes in COMPACT_SIZES (default 10M) run only for the series in BIG_SERIES (default
# compact tasks and Node.js): ordinary tasks at 4.4 KB each would need 44 GB at 10M, more than
# this machine's 24 GiB, and so would Go's goroutines at 2.8 KB each (all alive at once: each
# waits at a gate until every one is made); Node.js (~0.8 KB, with a 16 GiB heap limit) fits.
#
# usage: bench/scale.sh [N ...]      (default 10000 100000 1000000)
# environment: CASK_BENCH_REPS (3), CASK_BENCH_NODE (node), GO (go),
#   COMPACT_SIZES (extra sizes, for the series in BIG_SERIES only; default 10000000),
#   BIG_SERIES (default "cask_compact node"),
#   SCALE_PEERS (run only these series, e.g. "cask_compact"; results are appended then)
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/build/bench
PEERS=$ROOT/bench/peers/core
REPS=${CASK_BENCH_REPS:-3}
NODE=${CASK_BENCH_NODE:-node}
GO=${GO:-go}
SIZES=("$@")
((${#SIZES[@]})) || SIZES=(10000 100000 1000000)

note() { echo "scale: $*" >&2; }
mkdir -p "$OUT"
make -C "$ROOT" -s build/bench/cask_core build/bench/cask_compact >&2 || exit 1
peers=(cask cask_compact)
if command -v "$GO" >/dev/null 2>&1 &&
    (cd "$PEERS/go" && GOCACHE=$OUT/gocache GOPATH=$OUT/gopath GOPROXY=off GOFLAGS='' \
        GO111MODULE=on "$GO" build -o "$OUT/peer-go" .) >&2; then
    peers+=(go)
else
    note "skipping go: no $GO, or its build failed"
fi
if command -v "$NODE" >/dev/null 2>&1; then
    peers+=(node)
else
    note "skipping node: no $NODE on PATH"
fi

if [[ -n ${SCALE_PEERS:-} ]]; then
    keep=()
    for p in "${peers[@]}"; do [[ " $SCALE_PEERS " == *" $p "* ]] && keep+=("$p"); done
    peers=("${keep[@]}")
fi

lock() {
    if [[ -n ${CASK_BENCH_LOCK_HELD:-} ]]; then "$@"; else flock /tmp/cask-bench.lock "$@"; fi
}

res=$OUT/scale.txt
[[ -n ${SCALE_PEERS:-} ]] || : >"$res"
read -r -a extra <<<"${COMPACT_SIZES:-10000000}"
big=" ${BIG_SERIES:-cask_compact node} "
for n in "${SIZES[@]}" "${extra[@]}"; do
    for peer in "${peers[@]}"; do
        if [[ " ${SIZES[*]} " != *" $n "* ]]; then
            [[ $big == *" $peer "* ]] || continue # the extra sizes are BIG_SERIES' only
        fi
        case $peer in
        cask) cmd=("$OUT/cask_core" sleepers "$n") ;;
        cask_compact) cmd=("$OUT/cask_compact" sleepers "$n") ;;
        go) cmd=("$OUT/peer-go" sleepers "$n") ;;
        node) cmd=("$NODE" --max-old-space-size=16384 "$PEERS/node.js" sleepers "$n") ;;
        esac
        walls=() bytes=()
        for ((r = 1; r <= REPS; r++)); do
            line=$(lock timeout 900 "${cmd[@]}" 2>/dev/null | grep '^RESULT ' | head -n 1)
            [[ -z $line ]] && { note "$peer $n: run $r failed"; continue; }
            walls+=("$(sed -n 's/.* wall_s=\([0-9.]*\).*/\1/p' <<<"$line")")
            bytes+=("$(sed -n 's/.* bytes_per_task=\([0-9.]*\).*/\1/p' <<<"$line")")
        done
        ((${#walls[@]})) || continue
        med() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
        out="SCALE $peer n=$n wall_s=$(med "${walls[@]}") bytes_per_task=$(med "${bytes[@]}") runs=${#walls[@]}"
        echo "$out" | tee -a "$res"
    done
done
