#!/usr/bin/env bash
# Runs the core benchmarks: cask's own (build/bench/cask_*), the peers (asyncio, uvloop, Go,
# Node.js, libuv) and bench/net.sh when present. Every program is run REPS times (3) and the
# median of each key is kept. The median RESULT lines go to stdout and build/bench/results.txt;
# notes go to stderr. bench/table.py turns results.txt into tables.
#
# usage: bench/run.sh [--quick] [workload ...]
#   --quick      counts / 10 (CASK_BENCH_QUICK=1 for every program), sleepers 100k only
#   workload     spawn switch ctxswitch sleepers_100k sleepers_1m timers group lock2 lock100
#                queue1 queue1024 sem100; net for bench/net.sh (or a name it prints); default all
# environment: CASK_BENCH_REPS (3), CASK_BENCH_TIMEOUT (600 s per run),
#   CASK_BENCH_PYTHON (/usr/bin/python3), CASK_BENCH_NODE (node), GO (go), CC (cc),
#   CASK_BENCH_NET (bench/net.sh)
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/build/bench
PEERS=$ROOT/bench/peers/core
REPS=${CASK_BENCH_REPS:-3}
RUN_TIMEOUT=${CASK_BENCH_TIMEOUT:-600}
PY=${CASK_BENCH_PYTHON:-/usr/bin/python3}
NODE=${CASK_BENCH_NODE:-node}
GO=${GO:-go}
CC=${CC:-cc}
NET=${CASK_BENCH_NET:-$ROOT/bench/net.sh}

ALL_WORKLOADS="spawn switch ctxswitch sleepers_100k sleepers_1m timers group lock2 lock100 \
queue1 queue1024 sem100 pingpong_256 pingpong_1k pingpong_4k compact_sleepers_1m idle_conns"

note() { echo "bench: $*" >&2; }

quick=0
selected=()
for arg in "$@"; do
    case $arg in
    --quick) quick=1 ;;
    -h | --help)
        sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        note "unknown option $arg"
        exit 2
        ;;
    *) selected+=("$arg") ;;
    esac
done

is_core() { [[ " $ALL_WORKLOADS " == *" $1 "* ]]; }

if ((${#selected[@]})); then
    for w in "${selected[@]}"; do
        is_core "$w" || [[ $w == net ]] ||
            note "$w is not a core workload; only net.sh can print it"
    done
    list=()
    for w in "${selected[@]}"; do is_core "$w" && list+=("$w"); done
else
    read -r -a list <<<"$ALL_WORKLOADS"
    if ((quick)); then
        list_q=${ALL_WORKLOADS/ sleepers_1m/}
        read -r -a list <<<"${list_q/ compact_sleepers_1m/}"
    fi
fi
WORKLOADS="${list[*]}"

# wanted W: is the RESULT workload W one this run reports? A selected name also brings its
# variants named NAME_something (ctxswitch brings ctxswitch_raw).
wanted() {
    ((${#selected[@]} == 0)) && return 0
    local s
    for s in "${selected[@]}"; do [[ $1 == "$s" || $1 == "$s"_* ]] && return 0; done
    return 1
}

mkdir -p "$OUT"
RESULTS=$OUT/results.txt
: >"$RESULTS"
TMP=$(mktemp -d "$OUT/run.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

if ((quick)); then
    export CASK_BENCH_QUICK=1
else
    unset CASK_BENCH_QUICK
fi
export CASK_BENCH_WORKLOADS="$WORKLOADS"

# median: RESULT lines of several runs on stdin; prints, per (workload, runtime) in order of
# first appearance, one line with the median of every key (mean of the middle two if even);
# a key whose values are not numbers keeps the first one.
median() {
    awk '
    function fmt(x) {
        if (x == int(x) && (x < 0 ? -x : x) < 1e15) return sprintf("%d", x)
        return sprintf((x >= 100 || x <= -100) ? "%.1f" : "%.3f", x)
    }
    $1 == "RESULT" && NF >= 3 {
        g = $2 " " $3
        if (!(g in seen)) { seen[g] = 1; order[++ng] = g; nk[g] = 0 }
        for (i = 4; i <= NF; i++) {
            eq = index($i, "=")
            if (!eq) continue
            k = substr($i, 1, eq - 1)
            if (!((g, k) in hask)) { hask[g, k] = 1; keys[g, ++nk[g]] = k }
            v = substr($i, eq + 1)
            if (v ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/) {
                val[g, k, ++cnt[g, k]] = v + 0
            } else if (!((g, k) in text)) {
                text[g, k] = v  # not a number (via=future): keep the first
            }
        }
    }
    END {
        for (j = 1; j <= ng; j++) {
            g = order[j]; line = "RESULT " g
            for (m = 1; m <= nk[g]; m++) {
                k = keys[g, m]; c = cnt[g, k]
                if (c == 0) { line = line " " k "=" text[g, k]; continue }
                for (a = 1; a <= c; a++) s[a] = val[g, k, a]
                for (a = 2; a <= c; a++) {
                    x = s[a]
                    for (b = a - 1; b >= 1 && s[b] > x; b--) s[b + 1] = s[b]
                    s[b + 1] = x
                }
                med = (c % 2) ? s[(c + 1) / 2] : (s[c / 2] + s[c / 2 + 1]) / 2
                line = line " " k "=" fmt(med)
            }
            print line
        }
    }'
}

# only_wanted [net]: passes the RESULT lines on stdin whose workload is selected (all of
# them when nothing was selected, or when the argument is net and net was selected).
only_wanted() {
    local tag w rest
    while read -r tag w rest; do
        [[ $tag == RESULT ]] || continue
        if wanted "$w" || { [[ ${1:-} == net ]] && wanted net; }; then
            echo "$tag $w $rest"
        fi
    done
}

# emit: median lines on stdin -> stdout and results.txt
emit() { tee -a "$RESULTS"; }

# measure LABEL CMD...: runs CMD REPS times, prints the medians of its RESULT lines.
measure() {
    local label=$1
    shift
    local raw=$TMP/raw r rc
    : >"$raw"
    for ((r = 1; r <= REPS; r++)); do
        timeout "$RUN_TIMEOUT" "$@" >"$TMP/out" 2>"$TMP/err"
        rc=$?
        grep '^RESULT ' "$TMP/out" >>"$raw"
        # no RESULT line with exit 0: none of the binary's workloads was selected
        if ((rc != 0)); then
            note "$label: run $r failed (exit $rc)"
            sed 's/^/    /' "$TMP/err" | tail -n 5 >&2
        fi
    done
    median <"$raw"
}

# --- build and probe the peers -------------------------------------------------------------

declare -A have=([asyncio]=0 [uvloop]=0 [go]=0 [node]=0 [libuv]=0)

if [[ -x $PY ]] && "$PY" -c 'import asyncio; asyncio.TaskGroup' 2>/dev/null; then
    have[asyncio]=1
    if "$PY" -c 'import uvloop' 2>/dev/null; then
        have[uvloop]=1
    else
        note "skipping uvloop: $PY cannot import uvloop (apt-get install python3-uvloop)"
    fi
else
    note "skipping asyncio and uvloop: $PY missing or older than 3.11"
fi

if command -v "$GO" >/dev/null 2>&1; then
    if (cd "$PEERS/go" && GOCACHE=$OUT/gocache GOPATH=$OUT/gopath GOPROXY=off GOFLAGS='' \
        GO111MODULE=on "$GO" build -o "$OUT/peer-go" .) >"$TMP/gobuild" 2>&1; then
        have[go]=1
    else
        note "skipping go: build failed"
        sed 's/^/    /' "$TMP/gobuild" >&2
    fi
else
    note "skipping go: no $GO on PATH (apt-get install golang-go)"
fi

if command -v "$NODE" >/dev/null 2>&1; then
    have[node]=1
else
    note "skipping node: no $NODE on PATH (apt-get install nodejs)"
fi

if command -v "$CC" >/dev/null 2>&1; then
    uv_flags=$(pkg-config --cflags --libs libuv 2>/dev/null || echo -luv)
    # shellcheck disable=SC2086
    if "$CC" -O2 -o "$OUT/peer-libuv" "$PEERS/libuv.c" $uv_flags >"$TMP/uvbuild" 2>&1; then
        have[libuv]=1
    else
        note "skipping libuv: build failed (apt-get install libuv1-dev)"
        sed 's/^/    /' "$TMP/uvbuild" | tail -n 5 >&2
    fi
else
    note "skipping libuv: no $CC"
fi

# peer_supports PEER W
peer_supports() {
    case $1 in
    asyncio | uvloop) [[ $2 != ctxswitch ]] ;;
    go) return 0 ;;
    node | libuv) [[ $2 == spawn || $2 == switch || $2 == timers || $2 == sleepers_* ]] ;;
    *) return 1 ;;
    esac
}

# workload_arg W: the N argument a workload takes on the command line
workload_arg() {
    case $1 in
    sleepers_100k) echo 100000 ;;
    sleepers_1m) echo 1000000 ;;
    esac
}

# --- cask's own benchmarks ----------------------------------------------------------------

# A benchmark script builds what it measures: every bench/cask_*.c (the servers too, for
# net.sh), through the Makefile, so the library is rebuilt first when its sources changed.
shopt -s nullglob
cask_srcs=("$ROOT"/bench/cask_*.c)
shopt -u nullglob
cask_targets=()
for src in "${cask_srcs[@]}"; do
    base=${src##*/}
    cask_targets+=("build/bench/${base%.c}")
done
if ((${#cask_targets[@]})) && ! make -C "$ROOT" -s "${cask_targets[@]}" >"$TMP/make" 2>&1; then
    note "building cask's benchmarks failed:"
    tail -n 20 "$TMP/make" | sed 's/^/    /' >&2
    exit 1
fi
shopt -s nullglob
cask_bins=("$OUT"/cask_*)
shopt -u nullglob
if [[ -z $WORKLOADS ]]; then
    cask_bins=()  # only network workloads were selected
elif ((${#cask_bins[@]} == 0)); then
    note "no cask benchmark sources (bench/cask_*.c); peers only"
fi
for bin in "${cask_bins[@]}"; do
    [[ -f $bin && -x $bin ]] || continue
    name=${bin##*/cask_}
    # Servers (cask_echo_server, cask_http_server) are driven by bench/net.sh, not run here.
    [[ $name == *server* ]] && continue
    # cask_proc runs with its peers in bench/proc.sh, cask_fs in bench/fs.sh (below)
    [[ $name == proc || $name == fs ]] && continue
    # A binary named after one core workload runs only when that workload is selected.
    if is_core "$name" && [[ " $WORKLOADS " != *" $name "* ]]; then
        continue
    fi
    note "running ${bin#"$ROOT"/} ($REPS runs)"
    measure "${bin##*/}" "$bin" | only_wanted | emit
done

# --- peers --------------------------------------------------------------------------------

for w in $WORKLOADS; do
    n=$(workload_arg "$w")
    for peer in asyncio uvloop go node libuv; do
        peer_supports "$peer" "$w" || continue
        ((have[$peer])) || continue
        case $peer in
        asyncio) cmd=("$PY" "$PEERS/aio.py" "$w") ;;
        uvloop) cmd=("$PY" "$PEERS/aio.py" "$w" --uvloop) ;;
        go) cmd=("$OUT/peer-go" "$w") ;;
        node) cmd=("$NODE" "$PEERS/node.js" "$w") ;;
        libuv) cmd=("$OUT/peer-libuv" "$w") ;;
        esac
        [[ -n $n ]] && cmd+=("$n")
        note "$w: $peer ($REPS runs)"
        measure "$w/$peer" "${cmd[@]}" | emit
    done
done

# --- network benchmarks (bench/net.sh prints its own medians) -------------------------------

# With no selection, or with "net" selected, net.sh runs all its workloads; else it gets the
# selected names that are not core workloads (its own: echo_c100_1k, http, ...).
run_net=0
net_args=()
if ((${#selected[@]} == 0)); then
    run_net=1
else
    for s in "${selected[@]}"; do
        if [[ $s == net ]]; then
            run_net=2
        elif ! is_core "$s"; then
            ((run_net == 2)) || run_net=1
            net_args+=("$s")
        fi
    done
    ((run_net == 2)) && net_args=()
fi
if ((run_net)); then
    if [[ -f $NET && -x $NET ]]; then
        note "running ${NET#"$ROOT"/} ${net_args[*]}"
        "$NET" "${net_args[@]}" >"$TMP/net"
        rc=$?
        ((rc != 0)) && note "${NET#"$ROOT"/} exited $rc"
        only_wanted net <"$TMP/net" | emit
    else
        note "no executable bench/net.sh; skipping the network benchmarks"
    fi
fi

# --- processes (bench/proc.sh: spawn, pipe throughput, process pool; full runs only) ----------

if ((${#selected[@]} == 0)) && [[ -x $ROOT/bench/proc.sh ]]; then
    note "running bench/proc.sh"
    "$ROOT/bench/proc.sh" $( ((quick)) && echo --quick) | emit
fi

# --- files (bench/fs.sh: random and sequential reads, small files, appends; full runs only) --

if ((${#selected[@]} == 0)) && [[ -x $ROOT/bench/fs.sh ]]; then
    note "running bench/fs.sh"
    "$ROOT/bench/fs.sh" $( ((quick)) && echo --quick) | emit
fi

note "medians written to ${RESULTS#"$ROOT"/}; tables: /usr/bin/python3 bench/table.py"
