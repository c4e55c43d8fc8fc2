"""Markdown tables from the benchmark results (stdlib only).

Usage: /usr/bin/python3 bench/table.py [build/bench/results.txt]

Reads lines "RESULT <workload> <runtime> key=value ...", as bench/run.sh writes them, and
prints one table per workload (in order of first appearance): one row per runtime with its
primary metric (the first key), the ratio of cask to that runtime, and the other keys.
Lower is better, except for rates: keys ending in _per_s, and rps. The reference row is the
runtime named "cask", else the first whose name starts with "cask". When a (workload,
runtime) pair appears more than once, the last line wins.
"""

import os
import signal
import sys

DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "bench",
                       "results.txt")


def parse(lines):
    """Returns {workload: {runtime: [(key, value), ...]}}, both in order of appearance."""
    table = {}
    for line in lines:
        f = line.split()
        if len(f) < 4 or f[0] != "RESULT":
            continue
        kv = []
        for item in f[3:]:
            k, eq, v = item.partition("=")
            if not eq:
                continue
            try:
                kv.append((k, float(v)))
            except ValueError:
                kv.append((k, v))  # a label such as via=future, shown as is
        if kv and isinstance(kv[0][1], float):
            table.setdefault(f[1], {})[f[2]] = kv
    return table


def higher_is_better(key):
    """Rates are better high: keys ending in _per_s, and rps (as bench/net.sh prints it)."""
    return key.endswith("_per_s") or key == "rps" or key.endswith("_rps")


def fmt(v):
    if isinstance(v, str):
        return v
    if v == int(v) and abs(v) < 1e15:
        return "{:,}".format(int(v))
    if abs(v) >= 100:
        return "{:,.1f}".format(v)
    return "{:.4g}".format(v)


def ratio_text(key, cask_v, peer_v):
    """How many times faster cask is than the peer, by the primary key."""
    if higher_is_better(key):
        r = cask_v / peer_v if peer_v else float("inf")
    else:
        r = peer_v / cask_v if cask_v else float("inf")
    if r == float("inf"):
        return "-"
    if r < 1:
        return "**%.2fx faster than cask**" % (1 / r)
    return "cask is %.2fx faster" % r


def reference(rows):
    if "cask" in rows:
        return "cask"
    for rt in rows:
        if rt.startswith("cask"):
            return rt
    return None


def render(workload, rows):
    ref = reference(rows)
    key = next(iter(rows.values()))[0][0] if ref is None else rows[ref][0][0]
    better = "higher is better" if higher_is_better(key) else "lower is better"
    out = ["### %s" % workload, "",
           "| runtime | %s (%s) | vs cask | other |" % (key, better),
           "|---|---:|---|---|"]
    order = sorted(rows, key=lambda rt: (rt != ref, not rt.startswith("cask")))
    for rt in order:
        kv = rows[rt]
        k0, v0 = kv[0]
        if k0 != key:
            value = "%s=%s" % (k0, fmt(v0))
            ratio = "- (different metric)"
        else:
            value = fmt(v0)
            if ref is None or rt == ref:
                ratio = "-"
            else:
                ratio = ratio_text(key, rows[ref][0][1], v0)
        other = " ".join("%s=%s" % (k, fmt(v)) for k, v in kv[1:])
        out.append("| %s | %s | %s | %s |" % (rt, value, ratio, other))
    return "\n".join(out)


def main(argv):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet when piped into head
    path = argv[1] if len(argv) > 1 else DEFAULT
    try:
        with open(path) as f:
            table = parse(f)
    except OSError as e:
        sys.stderr.write("table.py: %s (run bench/run.sh first)\n" % e)
        return 1
    if not table:
        sys.stderr.write("table.py: no RESULT lines in %s\n" % path)
        return 1
    print("\n\n".join(render(w, rows) for w, rows in table.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
