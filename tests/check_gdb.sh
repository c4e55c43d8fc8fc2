#!/bin/bash
# tools/gdb/cask.py on a live process and on a core dump: examples/46_deadlock runs under gdb
# until its tasks are deadlocked (a breakpoint on the deadlock check), `cask tasks` and
# `cask bt` run there, then the process is sent SIGABRT and the kernel dumps its core, and the
# same commands run on the core. Each must name the tasks, their waits and the function each
# is parked in. Skipped (exit 0, with a message) without gdb or when no core can be made.
# Usage: tests/check_gdb.sh BUILD_DIR
set -euo pipefail
bin="$(cd "$1" && pwd)/examples/46_deadlock"
py="$(cd "$(dirname "$0")/.." && pwd)/tools/gdb/cask.py"
command -v gdb >/dev/null || { echo "check_gdb: gdb not installed, skipped (CI installs it)"; exit 0; }
dir=$(mktemp -d /tmp/cask_gdb_check.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "check_gdb: FAIL: $*"; echo "--- gdb said:"; cat "$dir/out"; exit 1; }
check() { # what the commands must print, live or on the core
    grep -q "^2 *writer *waiting *lock 0x[0-9a-f]* held by task 3 'reader'" "$dir/out" || fail "$1: cask tasks: writer"
    grep -q "^3 *reader *waiting *lock 0x[0-9a-f]* held by task 2 'writer'" "$dir/out" || fail "$1: cask tasks: reader"
    grep -q "^1 *Task-1 *waiting *join task 2 'writer'" "$dir/out" || fail "$1: cask tasks: main"
    grep -q "^task 2 'writer' waiting" "$dir/out" || fail "$1: cask bt 2"
    grep -q "in take_both at .*46_deadlock.c:" "$dir/out" || fail "$1: cask bt 2 names take_both"
    grep -Eq "in (wait_handoff|cask_lock_acquire) at .*lock.c:" "$dir/out" || fail "$1: cask bt 2 names the lock wait"
}
cd "$dir"
(ulimit -c unlimited
 timeout 60 gdb -nx -q -batch -ex 'set pagination off' -ex 'set confirm off' \
     -ex 'break cask__diag_idle' -ex run -ex "source $py" -ex 'cask tasks' -ex 'cask bt 2' \
     -ex 'signal SIGABRT' "$bin" > "$dir/out" 2>&1) || true
grep -q "Breakpoint 1, cask__diag_idle" "$dir/out" || fail "live: the program did not reach the deadlock check"
check live
core=$(ls "$dir"/core* 2>/dev/null | head -1 || true)
if [ -z "$core" ]; then
    echo "check_gdb: live ok; no core dump made (core_pattern: $(cat /proc/sys/kernel/core_pattern)), core part skipped"
    exit 0
fi
timeout 60 gdb -nx -q -batch -ex "source $py" -ex 'cask tasks' -ex 'cask bt 2' "$bin" "$core" > "$dir/out" 2>&1 || true
check core
echo "check_gdb: ok (live and core dump)"
