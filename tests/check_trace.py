#!/usr/bin/env python3
"""Checks a cask trace file (Chrome trace-event JSON from cask_trace_write) for tests.

Usage: check_trace.py TRACE [--track NAME]... [--wait WORDS]... [--wake-by WORDS]...
                      [--dropped] [--flows]
Checks that it parses as JSON, that every event has a known phase and the fields its phase
needs, that timestamps never go back in file order, that on every track each "E" closes a
"B" (slices nest, none is left open), that every flow end follows its start, and that the
tracks, wait slices and wakers named on the command line appear. Prints "ok" or the problems.
"""
import argparse, json, sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--track", action="append", default=[])
    ap.add_argument("--wait", action="append", default=[])
    ap.add_argument("--wake-by", action="append", default=[])
    ap.add_argument("--dropped", action="store_true", help="expect events dropped by the ring")
    ap.add_argument("--flows", action="store_true", help="expect flow events (a task woke one)")
    a = ap.parse_args()
    with open(a.trace, encoding="utf-8") as f:
        doc = json.load(f)
    problems = []
    evs = doc["traceEvents"]
    names, waits, wakers = set(), [], []
    depth, last_ts, flows = {}, None, {}
    counts = {}
    for i, e in enumerate(evs):
        ph = e.get("ph")
        counts[ph] = counts.get(ph, 0) + 1
        if ph not in ("M", "B", "E", "i", "s", "f"):
            problems.append(f"event {i}: unknown phase {ph!r}")
            continue
        for key in ("name", "pid", "tid"):
            if key not in e:
                problems.append(f"event {i}: no {key}")
        if ph == "M":
            if e["name"] == "thread_name":
                names.add(e["args"]["name"])
            continue
        ts = e.get("ts")
        if not isinstance(ts, (int, float)):
            problems.append(f"event {i}: ts {ts!r}")
            continue
        if last_ts is not None and ts < last_ts:
            problems.append(f"event {i}: ts {ts} before {last_ts}")
        last_ts = ts
        tid = e["tid"]
        if ph == "B":
            depth[tid] = depth.get(tid, 0) + 1
            if e.get("cat") == "wait":
                waits.append(e["name"])
        elif ph == "E":
            depth[tid] = depth.get(tid, 0) - 1
            if depth[tid] < 0:
                problems.append(f"event {i}: E without B on track {tid}")
        elif ph == "i":
            if e.get("s") not in ("t", "p", "g"):
                problems.append(f"event {i}: instant without scope")
            if e["name"] == "wake":
                wakers.append(e["args"]["by"])
        elif ph == "s":
            flows[e["id"]] = ts
        elif ph == "f":
            if e["id"] not in flows or flows[e["id"]] > ts:
                problems.append(f"event {i}: flow end {e['id']} before its start")
            if depth.get(tid, 0) < 1:
                problems.append(f"event {i}: flow end outside a slice")
    for tid, d in depth.items():
        if d:
            problems.append(f"track {tid}: {d} slices left open")
    for want in a.track:
        if not any(want in n for n in names):
            problems.append(f"no track named {want!r} (tracks: {sorted(names)})")
    for want in a.wait:
        if not any(want in w for w in waits):
            problems.append(f"no wait slice {want!r} (waits: {sorted(set(waits))[:20]})")
    for want in a.wake_by:
        if not any(want in w for w in wakers):
            problems.append(f"no wake by {want!r} (wakers: {sorted(set(wakers))})")
    for ph in ("B", "E", "i") + (("s", "f") if a.flows else ()):
        if not counts.get(ph):
            problems.append(f"no {ph!r} event")
    dropped = doc.get("otherData", {}).get("dropped", 0)
    if a.dropped != (dropped > 0):
        problems.append(f"dropped {dropped}, expected {'some' if a.dropped else 'none'}")
    if problems:
        print("\n".join(problems[:30]))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
