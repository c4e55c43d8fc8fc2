#!/bin/bash
# The static-file server example (examples/71_static_server.c) against curl and wrk: a large
# random file comes back byte for byte, keep-alive reuses the connection, HEAD, 404, and no
# escape from the directory with "..". Usage: tests/check_static_server.sh BUILD_DIR
set -euo pipefail
bin="$1/examples/71_static_server"
command -v curl >/dev/null || { echo "check_static_server: curl not installed, skipped"; exit 0; }
dir=$(mktemp -d /tmp/cask_www_check.XXXXXX)
port=$((20000 + RANDOM % 20000))
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
echo "<h1>index</h1>" > "$dir/index.html"
head -c 7340033 /dev/urandom > "$dir/big.bin"
mkdir "$dir/sub" && echo secret > "$dir/../cask_www_outside.$$" && echo in > "$dir/sub/a.txt"
timeout 60 "$bin" "$dir" "$port" > /dev/null & pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
fail() { echo "check_static_server: FAIL: $*"; rm -f "$dir/../cask_www_outside.$$"; exit 1; }
u="http://127.0.0.1:$port"
curl -sf -o "$dir/../got.$$" "$u/big.bin" || fail "GET big.bin"
cmp -s "$dir/../got.$$" "$dir/big.bin" || fail "big.bin differs"
rm -f "$dir/../got.$$"
[ "$(curl -s "$u/")" = "<h1>index</h1>" ] || fail "GET /"
[ "$(curl -s "$u/sub/a.txt")" = "in" ] || fail "GET /sub/a.txt"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$u/nope")" = 404 ] || fail "404"
[ "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$u/../cask_www_outside.$$")" = 403 ] || fail "escape with .."
[ "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$u/sub/../../cask_www_outside.$$")" = 403 ] || fail "escape with sub/../.."
rm -f "$dir/../cask_www_outside.$$"
len=$(curl -sI "$u/big.bin" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-length"{print $2}')
[ "$len" = 7340033 ] || fail "HEAD Content-Length $len"
# two URLs on one curl: the second reuses the kept-alive connection
[ "$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' "$u/" "$u/sub/a.txt" | tail -1)" = 0 ] || fail "keep-alive"
if command -v wrk >/dev/null; then
    out=$(wrk -t1 -c8 -d1s "$u/index.html" 2>&1)
    echo "$out" | grep -q "Non-2xx" && fail "wrk saw errors: $out"
    echo "check_static_server: wrk $(echo "$out" | grep Requests/sec)"
fi
echo "check_static_server: ok (curl: body, keep-alive, HEAD, 404, no escape)"
