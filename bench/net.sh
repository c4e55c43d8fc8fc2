#!/usr/bin/env bash
# bench/net.sh: TCP echo and HTTP/1.1 hello benchmarks of cask and its peers (asyncio, uvloop,
# Go, Node.js, libuv) with one common load generator.
#
# usage: bench/net.sh [--quick] [WORKLOAD...]
#   WORKLOAD: echo_c10_1k echo_c100_1k echo_c10_64k echo_c100_64k conn_c50_1k http (default:
#             all). conn_c50_1k is the connect rate: 50 clients, each connecting, sending 1 KiB,
#             reading its echo and closing, over and over (a request is a whole connection)
#   --quick (or CASK_BENCH_QUICK=1): 2 s runs, one repetition, echo_c100_1k and http only
#   CASK_BENCH_LOCK: machine-wide lock file, so runs never overlap (default /tmp/cask-bench.lock)
#   CASK_BENCH_PORT: first TCP port to use (default 19500 + a per-process offset, below 32000)
#   CASK_BENCH_REPS: repetitions (default 3, 1 in quick mode)
#   CASK_BENCH_RUNTIMES: only these runtimes (space-separated), e.g. "go libuv cask-uring-ring"
#
# Each server runs pinned to CPU 0 and the load generator (build/bench/echo_load, or wrk for
# http) pinned to CPU 1. The server's CPU time (utime+stime of all its threads, /proc/PID/stat) is
# taken over exactly the measured interval, the same way for every runtime. Every measurement
# runs 3 times (1 in quick mode), runtimes interleaved, and the medians are printed as
#   RESULT <workload> <runtime> cpu_us_per_req=... rps=... p50_us=... p99_us=...
#          loadgen_cpu_pct=... [limited=loadgen]
# (http lines have no p50_us). cpu_us_per_req, the server's CPU time per request, is the
# primary figure: on 2 CPUs the load generator's core saturates (loadgen_cpu_pct is the load
# generator's own CPU time over its run; at 90% or more the line says limited=loadgen), and rps
# measures the load generator as much as the server. Progress and warnings go to stderr,
# RESULT lines to stdout; the raw measurements are kept in build/bench/net-raw.txt.
#
# cask's own servers, build/bench/cask_echo_server PORT and build/bench/cask_http_server PORT,
# are built first (make); peers whose toolchain is missing are skipped with a note.

set -u -o pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build/bench
PEERS=$ROOT/bench/peers/net
PY=/usr/bin/python3
NODE=/usr/bin/node
CC=${CC:-cc}
CFLAGS_BENCH=(-std=c11 -O2 -Wall -Wextra -Werror)

ALL_WORKLOADS="echo_c10_1k echo_c100_1k echo_c10_64k echo_c100_64k conn_c50_1k http"
# cask: the library's defaults; cask-epoll: the epoll backend; cask-uring-ready: the io_uring
# backend with sockets on readiness; cask-uring-ring: the io_uring backend with sockets' recv,
# send and accept on the ring (CASK_NET=ring)
CASK_RUNTIMES="cask cask-epoll cask-uring-ready cask-uring-ring"
ECHO_RUNTIMES="asyncio-streams asyncio-proto uvloop-streams uvloop-proto go node libuv $CASK_RUNTIMES"
HTTP_RUNTIMES="asyncio-streams asyncio-proto uvloop go node libuv $CASK_RUNTIMES"
# CASK_BENCH_RUNTIMES (a space-separated list) runs only those runtimes
if [ -n "${CASK_BENCH_RUNTIMES:-}" ]; then
    keep() {
        local out="" rt
        for rt in $1; do
            case " $CASK_BENCH_RUNTIMES " in *" $rt "*) out="$out $rt" ;; esac
        done
        echo "$out"
    }
    ECHO_RUNTIMES=$(keep "$ECHO_RUNTIMES")
    HTTP_RUNTIMES=$(keep "$HTTP_RUNTIMES")
fi

note() { printf '%s\n' "$*" >&2; }
die() { note "net.sh: $*"; exit 1; }

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
}

# ---- arguments ---------------------------------------------------------------------------------

quick=${CASK_BENCH_QUICK:-0}
[ "$quick" = 1 ] || quick=0
selected=""
for arg in "$@"; do
    case $arg in
    --quick) quick=1 ;;
    -h | --help) usage; exit 0 ;;
    echo_c10_1k | echo_c100_1k | echo_c10_64k | echo_c100_64k | conn_c50_1k | http)
        selected="$selected $arg" ;;
    *) usage; die "unknown argument: $arg" ;;
    esac
done
if [ -z "$selected" ]; then
    if [ "$quick" = 1 ]; then selected="echo_c100_1k http"; else selected=$ALL_WORKLOADS; fi
fi
if [ "$quick" = 1 ]; then
    DURATION=2 WARMUP=0.5 REPS=${CASK_BENCH_REPS:-1}
else
    DURATION=10 WARMUP=1 REPS=${CASK_BENCH_REPS:-3}
fi
echo_workloads=""
run_http=0
for w in $ALL_WORKLOADS; do
    case " $selected " in *" $w "*) ;; *) continue ;; esac
    if [ "$w" = http ]; then run_http=1; else echo_workloads="$echo_workloads $w"; fi
done

# ---- cleanup: never leave a server (or a client) running ---------------------------------------

SERVER_PID=""
CLIENT_PID=""
TMP=$(mktemp -d)

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    local pid=$SERVER_PID
    SERVER_PID=""
    kill -TERM "$pid" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    if [ -n "$CLIENT_PID" ]; then
        kill -KILL "$CLIENT_PID" 2>/dev/null
        wait "$CLIENT_PID" 2>/dev/null
        CLIENT_PID=""
    fi
    stop_server
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---- one benchmark at a time on this machine --------------------------------------------------

# Runs measured at the same time disturb each other on a 2-CPU machine, so every net.sh (from any
# checkout) waits for the machine-wide lock. A caller that already holds it (a wrapper taking the
# same lock around several benchmarks) sets CASK_BENCH_LOCK_HELD=1.
LOCK=${CASK_BENCH_LOCK:-/tmp/cask-bench.lock}
if [ "${CASK_BENCH_LOCK_HELD:-0}" != 1 ] && command -v flock >/dev/null 2>&1; then
    exec 9>>"$LOCK" || die "cannot open the lock file $LOCK"
    if ! flock -n 9; then
        note "net.sh: waiting for another benchmark run to finish (lock $LOCK)"
        flock 9 || die "cannot take the lock $LOCK"
    fi
    export CASK_BENCH_LOCK_HELD=1
fi

# ---- build -------------------------------------------------------------------------------------

mkdir -p "$BUILD" || die "cannot create $BUILD"
note "net.sh: building into $BUILD"
# cask's servers through the Makefile (which rebuilds the library when its sources changed)
make -C "$ROOT" -s build/bench/cask_echo_server build/bench/cask_http_server >&2 ||
    die "cannot build cask's servers"

# up_to_date OUT SRC: OUT exists and is newer than SRC and this script (which holds the flags).
up_to_date() {
    [ -x "$1" ] && [ "$1" -nt "$2" ] && [ "$1" -nt "${BASH_SOURCE[0]}" ]
}

# build_c OUT SRC [LIBS...]: compiles, then renames into place, so a binary another run is
# executing is never rewritten in place.
build_c() {
    local out=$1 src=$2
    shift 2
    up_to_date "$out" "$src" && return 0
    if ! $CC "${CFLAGS_BENCH[@]}" -o "$out.tmp.$$" "$src" "$@"; then
        rm -f "$out.tmp.$$"
        return 1
    fi
    mv -f "$out.tmp.$$" "$out"
}

# build_go OUT SRC: like build_c, for a Go program that needs only the standard library.
build_go() {
    up_to_date "$1" "$2" && return 0
    if ! go build -o "$1.tmp.$$" "$2"; then
        rm -f "$1.tmp.$$"
        return 1
    fi
    mv -f "$1.tmp.$$" "$1"
}

build_c "$BUILD/echo_load" "$ROOT/bench/loadgen/echo_load.c" -lm ||
    die "cannot build the load generator"

have_libuv=0
if uv_flags=$(pkg-config --cflags --libs libuv 2>/dev/null); then
    # shellcheck disable=SC2086
    if build_c "$BUILD/echo_libuv" "$PEERS/echo_libuv.c" $uv_flags &&
        build_c "$BUILD/http_libuv" "$PEERS/http_libuv.c" $uv_flags; then
        have_libuv=1
    else
        note "net.sh: libuv peers failed to build; skipping libuv"
    fi
else
    note "net.sh: libuv not found (pkg-config libuv); skipping libuv"
fi

have_go=0
if command -v go >/dev/null 2>&1; then
    export GOCACHE=$ROOT/build/go-cache GOPATH=$ROOT/build/go-path GOTOOLCHAIN=local \
        GOPROXY=off
    if build_go "$BUILD/echo_go" "$PEERS/echo_go.go" &&
        build_go "$BUILD/http_go" "$PEERS/http_go.go"; then
        have_go=1
    else
        note "net.sh: Go peers failed to build; skipping go"
    fi
else
    note "net.sh: go not found; skipping go"
fi

have_python=0
have_uvloop=0
if [ -x "$PY" ] && "$PY" -c 'import asyncio' 2>/dev/null; then
    have_python=1
    if "$PY" -c 'import uvloop' 2>/dev/null; then
        have_uvloop=1
    else
        note "net.sh: uvloop not importable by $PY; skipping uvloop"
    fi
else
    note "net.sh: $PY not found; skipping asyncio and uvloop"
fi

have_node=0
if [ -x "$NODE" ]; then have_node=1; else note "net.sh: $NODE not found; skipping node"; fi

if [ "$run_http" = 1 ] && ! command -v wrk >/dev/null 2>&1; then
    note "net.sh: wrk not found; skipping http"
    run_http=0
fi

command -v taskset >/dev/null 2>&1 || die "taskset not found (util-linux)"

# Tool versions, for reading results later.
{
    printf 'net.sh: %s, %s CPUs, kernel %s\n' "$(date -u +%FT%TZ)" "$(nproc)" "$(uname -r)"
    [ "$have_python" = 1 ] && printf 'net.sh: python %s%s\n' \
        "$("$PY" -c 'import platform; print(platform.python_version())')" \
        "$([ "$have_uvloop" = 1 ] && "$PY" -c 'import uvloop; print(", uvloop", uvloop.__version__)')"
    [ "$have_go" = 1 ] && printf 'net.sh: %s\n' "$(go version)"
    [ "$have_node" = 1 ] && printf 'net.sh: node %s\n' "$("$NODE" --version)"
    [ "$have_libuv" = 1 ] && printf 'net.sh: libuv %s\n' "$(pkg-config --modversion libuv)"
    printf 'net.sh: mode %s: %s s per run, %s warmup, %s repetition(s); workloads:%s\n' \
        "$([ "$quick" = 1 ] && echo quick || echo full)" "$DURATION" "$WARMUP" "$REPS" \
        "$echo_workloads$([ "$run_http" = 1 ] && echo ' http')"
} >&2

# ---- servers -----------------------------------------------------------------------------------

# server_cmd KIND RUNTIME: prints the server command (PORT is appended), or fails when the
# runtime is not available. KIND is echo or http.
server_cmd() {
    local kind=$1 rt=$2
    case $kind:$rt in
    echo:asyncio-streams) [ "$have_python" = 1 ] && echo "$PY $PEERS/echo_asyncio_streams.py" ;;
    echo:asyncio-proto) [ "$have_python" = 1 ] && echo "$PY $PEERS/echo_asyncio_proto.py" ;;
    echo:uvloop-streams) [ "$have_uvloop" = 1 ] && echo "$PY $PEERS/echo_asyncio_streams.py --uvloop" ;;
    echo:uvloop-proto) [ "$have_uvloop" = 1 ] && echo "$PY $PEERS/echo_asyncio_proto.py --uvloop" ;;
    http:asyncio-streams) [ "$have_python" = 1 ] && echo "$PY $PEERS/http_asyncio_streams.py" ;;
    http:asyncio-proto) [ "$have_python" = 1 ] && echo "$PY $PEERS/http_asyncio_proto.py" ;;
    http:uvloop) [ "$have_uvloop" = 1 ] && echo "$PY $PEERS/http_asyncio_proto.py --uvloop" ;;
    *:go) [ "$have_go" = 1 ] && echo "$BUILD/${kind}_go" ;;
    *:node) [ "$have_node" = 1 ] && echo "$NODE $PEERS/${kind}_node.js" ;;
    *:libuv) [ "$have_libuv" = 1 ] && echo "$BUILD/${kind}_libuv" ;;
    *:cask) [ -x "$BUILD/cask_${kind}_server" ] && echo "$BUILD/cask_${kind}_server" ;;
    *:cask-epoll) [ -x "$BUILD/cask_${kind}_server" ] &&
        echo "env CASK_BACKEND=epoll CASK_NET=ready $BUILD/cask_${kind}_server" ;;
    *:cask-uring-ready) [ -x "$BUILD/cask_${kind}_server" ] &&
        echo "env CASK_BACKEND=io_uring CASK_NET=ready $BUILD/cask_${kind}_server" ;;
    *:cask-uring-ring) [ -x "$BUILD/cask_${kind}_server" ] &&
        echo "env CASK_BACKEND=io_uring CASK_NET=ring $BUILD/cask_${kind}_server" ;;
    *) return 1 ;;
    esac
}

# Succeeds when something accepts TCP connections on 127.0.0.1:$1.
port_accepts() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Succeeds when process $2 listens on 127.0.0.1:$1, so that two runs of this script at the same
# time never measure each other's server. Without ss, any listener on the port counts.
port_owned_by() {
    if command -v ss >/dev/null 2>&1; then
        ss -Hltnp "sport = :$1" 2>/dev/null | grep -q "pid=$2,"
    else
        port_accepts "$1"
    fi
}

# Ports start at a per-process offset so that concurrent runs rarely even try the same port.
NEXT_PORT=${CASK_BENCH_PORT:-$((19500 + ($$ % 100) * 100))}
# Picks the next port nothing listens on yet (fresh ports keep runs independent).
pick_port() {
    for _ in $(seq 1 200); do
        NEXT_PORT=$((NEXT_PORT + 1))
        [ "$NEXT_PORT" -gt 32000 ] && NEXT_PORT=19500
        port_accepts "$NEXT_PORT" || { PORT=$NEXT_PORT; return 0; }
    done
    return 1
}

# start_server KIND RUNTIME: starts it on CPU 0 and waits until its port accepts. Sets SERVER_PID
# and PORT.
start_server() {
    local cmd
    cmd=$(server_cmd "$1" "$2") || return 1
    pick_port || { note "net.sh: no free port"; return 1; }
    # The command string holds only paths and flags without spaces.
    # shellcheck disable=SC2086
    taskset -c 0 $cmd "$PORT" >"$TMP/server.log" 2>&1 </dev/null &
    SERVER_PID=$! # taskset execs the server, so this is the server's own PID
    for _ in $(seq 1 100); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            note "net.sh: $1 server $2 exited at startup: $(tail -n 3 "$TMP/server.log")"
            wait "$SERVER_PID" 2>/dev/null
            SERVER_PID=""
            return 1
        fi
        if port_owned_by "$PORT" "$SERVER_PID"; then
            # One connection opened and closed first, as any long-running server has seen. It
            # matters: Python 3.11's asyncio recv()s into a fresh 256 KiB bytes object; until
            # one such buffer is freed whole (at an EOF), glibc keeps mmapping them, which costs
            # two page faults per read and made asyncio echo 5x slower than after one close.
            port_accepts "$PORT"
            sleep 0.2
            return 0
        fi
        sleep 0.1
    done
    note "net.sh: $1 server $2 did not accept on port $PORT within 10 s"
    stop_server
    return 1
}

# CPU time (utime+stime, all threads) of process $1 in clock ticks.
cpu_ticks() {
    local stat rest
    stat=$(<"/proc/$1/stat") || return 1
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest # $1 is field 3 (state), so utime (field 14) is $12 and stime (15) is $13
    echo $((${12} + ${13}))
}
CLK_TCK=$(getconf CLK_TCK)

# Runs a client command on CPU 1 into $TMP/client.out; the background wait lets signals through.
# LOADGEN_PCT is set to the client's own CPU time (all its threads) over its run time, in percent
# of one CPU (sampled every 0.1 s while it runs, so the last 0.1 s are not counted).
run_client() {
    local t0 tl ticks=0 now
    t0=$(date +%s%N)
    tl=$t0
    taskset -c 1 "$@" >"$TMP/client.out" 2>&1 </dev/null &
    CLIENT_PID=$!
    while kill -0 "$CLIENT_PID" 2>/dev/null; do
        now=$(date +%s%N)
        if t=$(cpu_ticks "$CLIENT_PID" 2>/dev/null); then
            ticks=$t tl=$now
        fi
        sleep 0.1
    done
    wait "$CLIENT_PID"
    local rc=$?
    CLIENT_PID=""
    LOADGEN_PCT=$(awk -v t="$ticks" -v hz="$CLK_TCK" -v ns=$((tl - t0)) \
        'BEGIN { printf "%.0f", (ns > 0 ? t / hz * 100 / (ns / 1e9) : 0) }')
    return $rc
}


RAW=$TMP/raw.txt # copied to $BUILD/net-raw.txt at the end
: >"$RAW"

# field NAME LINE: the value of NAME=value in LINE.
field() {
    local v
    v=$(printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1)
    printf '%s' "$v"
}

# measure_echo WORKLOAD RUNTIME REP: one load generator run against the running server.
measure_echo() {
    local w=$1 rt=$2 rep=$3 conns size line rps p50 p99 req err cpu per per_conn=0
    case $w in
    echo_c10_1k) conns=10 size=1024 ;;
    echo_c100_1k) conns=100 size=1024 ;;
    echo_c10_64k) conns=10 size=65536 ;;
    echo_c100_64k) conns=100 size=65536 ;;
    conn_c50_1k) conns=50 size=1024 per_conn=1 ;;
    esac
    run_client "$BUILD/echo_load" -h 127.0.0.1 -p "$PORT" -c "$conns" -s "$size" \
        -d "$DURATION" -w "$WARMUP" -P "$SERVER_PID" -k "$per_conn"
    line=$(grep '^LOADGEN ' "$TMP/client.out")
    if [ -z "$line" ]; then
        note "net.sh: $w $rt: load generator failed: $(tail -n 3 "$TMP/client.out")"
        return 1
    fi
    rps=$(field rps "$line") p50=$(field p50_us "$line") p99=$(field p99_us "$line")
    req=$(field requests "$line") err=$(field errors "$line") cpu=$(field server_cpu_s "$line")
    if [ "$req" = 0 ] || [ "$cpu" = NA ] || [ -z "$cpu" ]; then
        note "net.sh: $w $rt: no usable measurement: $line"
        return 1
    fi
    [ "$err" = 0 ] || note "net.sh: warning: $w $rt: $err connection errors"
    per=$(awk -v c="$cpu" -v r="$req" 'BEGIN { printf "%.2f", c * 1e6 / r }')
    note "  $w $rt [$rep/$REPS] cpu_us_per_req=$per rps=$rps p50_us=$p50 p99_us=$p99 loadgen_cpu_pct=$LOADGEN_PCT errors=$err"
    echo "$w $rt $rps $p50 $p99 $per $LOADGEN_PCT" >>"$RAW"
}

# Latency as wrk prints it (e.g. 812.00us, 1.25ms, 2.00s) in microseconds.
wrk_us() {
    awk -v t="$1" 'BEGIN {
        v = t + 0; u = t; sub(/^[0-9.]+/, "", u)
        if (u == "us") m = 1; else if (u == "ms") m = 1000; else if (u == "s") m = 1e6;
        else if (u == "m") m = 6e7; else m = -1
        if (m < 0) print ""; else printf "%.1f", v * m }'
}

# measure_http RUNTIME REP: one wrk run against the running server, after a 1 s warmup run.
measure_http() {
    local rt=$1 rep=$2 t0 t1 rps p99 req per errs
    run_client wrk -t1 -c100 -d1s "http://127.0.0.1:$PORT/" || true
    t0=$(cpu_ticks "$SERVER_PID") || return 1
    if ! run_client wrk -t1 -c100 "-d${DURATION}s" --latency "http://127.0.0.1:$PORT/"; then
        note "net.sh: http $rt: wrk failed: $(tail -n 3 "$TMP/client.out")"
        return 1
    fi
    t1=$(cpu_ticks "$SERVER_PID") || return 1
    rps=$(awk '/^Requests\/sec:/ { printf "%.1f", $2 }' "$TMP/client.out")
    p99=$(wrk_us "$(awk '$1 == "99%" { print $2 }' "$TMP/client.out")")
    req=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$TMP/client.out")
    if [ -z "$rps" ] || [ -z "$p99" ] || [ -z "$req" ] || [ "$req" = 0 ]; then
        note "net.sh: http $rt: cannot read wrk output: $(tr '\n' ' ' <"$TMP/client.out")"
        return 1
    fi
    errs=$(grep -E 'Socket errors|Non-2xx' "$TMP/client.out" | tr -s ' \n' ' ')
    [ -z "$errs" ] || note "net.sh: warning: http $rt:$errs"
    per=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v r="$req" \
        'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    note "  http $rt [$rep/$REPS] cpu_us_per_req=$per rps=$rps p99_us=$p99 loadgen_cpu_pct=$LOADGEN_PCT"
    echo "http $rt $rps - $p99 $per $LOADGEN_PCT" >>"$RAW"
}

# Other work on the machine skews every figure: say so when more than a tenth of a CPU is busy
# before the runs start.
busy_check() {
    local a b
    read -ra a < <(head -n 1 /proc/stat)
    sleep 1
    read -ra b < <(head -n 1 /proc/stat)
    # cpu user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    awk -v u=$((b[1] + b[2] + b[3] + b[6] + b[7] + b[8] - a[1] - a[2] - a[3] - a[6] - a[7] - a[8])) \
        -v i=$((b[4] + b[5] - a[4] - a[5])) -v n="$(nproc)" 'BEGIN {
        if (u + i > 0 && u / (u + i) * n > 0.1)
            printf "net.sh: warning: other processes keep %.1f of %d CPUs busy; figures will be noisy\n",
                u / (u + i) * n, n }' >&2
}
busy_check

# ---- runs: repetitions outermost, so slow drifts of a noisy machine hit every runtime alike ------

declare -A skipped=()
for rep in $(seq 1 "$REPS"); do
    if [ -n "$echo_workloads" ]; then
        for rt in $ECHO_RUNTIMES; do
            [ -z "${skipped[echo:$rt]:-}" ] || continue
            if ! server_cmd echo "$rt" >/dev/null; then
                skipped[echo:$rt]=1
                [ "$rt" = cask ] && note "net.sh: $BUILD/cask_echo_server not built; skipping cask echo"
                continue
            fi
            start_server echo "$rt" || continue
            for w in $echo_workloads; do
                measure_echo "$w" "$rt" "$rep" || true
            done
            stop_server
        done
    fi
    if [ "$run_http" = 1 ]; then
        for rt in $HTTP_RUNTIMES; do
            [ -z "${skipped[http:$rt]:-}" ] || continue
            if ! server_cmd http "$rt" >/dev/null; then
                skipped[http:$rt]=1
                [ "$rt" = cask ] && note "net.sh: $BUILD/cask_http_server not built; skipping cask http"
                continue
            fi
            start_server http "$rt" || continue
            measure_http "$rt" "$rep" || true
            stop_server
        done
    fi
done

cp "$RAW" "$BUILD/net-raw.txt.tmp.$$" && mv -f "$BUILD/net-raw.txt.tmp.$$" "$BUILD/net-raw.txt"

# ---- medians -----------------------------------------------------------------------------------

# median: the median of the numbers on stdin, one a line.
median() {
    sort -g | awk '{ a[NR] = $1 }
        END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# column N of the raw lines for workload $1 and runtime $2
column() {
    awk -v w="$1" -v r="$2" -v n="$3" '$1 == w && $2 == r { print $n }' "$RAW"
}

# limited PCT: " limited=loadgen" when the load generator's CPU was saturated
limited() { awk -v p="$1" 'BEGIN { if (p >= 90) printf " limited=loadgen" }'; }

for w in $echo_workloads; do
    for rt in $ECHO_RUNTIMES; do
        [ -n "$(column "$w" "$rt" 3)" ] || continue
        pct=$(column "$w" "$rt" 7 | median)
        printf 'RESULT %s %s cpu_us_per_req=%.2f rps=%.0f p50_us=%.1f p99_us=%.1f loadgen_cpu_pct=%.0f%s\n' \
            "$w" "$rt" "$(column "$w" "$rt" 6 | median)" "$(column "$w" "$rt" 3 | median)" \
            "$(column "$w" "$rt" 4 | median)" "$(column "$w" "$rt" 5 | median)" "$pct" \
            "$(limited "$pct")"
    done
done
if [ "$run_http" = 1 ]; then
    for rt in $HTTP_RUNTIMES; do
        [ -n "$(column http "$rt" 3)" ] || continue
        pct=$(column http "$rt" 7 | median)
        printf 'RESULT http %s cpu_us_per_req=%.2f rps=%.0f p99_us=%.1f loadgen_cpu_pct=%.0f%s\n' \
            "$rt" "$(column http "$rt" 6 | median)" "$(column http "$rt" 3 | median)" \
            "$(column http "$rt" 5 | median)" "$pct" "$(limited "$pct")"
    done
fi
