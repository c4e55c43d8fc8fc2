#!/usr/bin/env python3
"""Draws a cask trace (the Chrome trace-event JSON of cask_trace_write) as an SVG of swimlanes.

One lane per track (the loop, then each task), "run" slices dark, wait slices light and
labelled with what the task waited on, instants as ticks, flows (spawn, wake) as arrows from
the waking task to the task's next run. It draws what the JSON holds, nothing more: the
picture in docs/diagnostics.md is made with it from a real trace of examples/48_trace_queue.

    python3 tools/trace_svg.py trace.json out.svg [--width 1100]
"""
import argparse, html, json, sys

LANE, TOP, LEFT, RIGHT = 34, 40, 170, 20
COLORS = {"run": "#2f6db5", "poll": "#9aa5b1", "callback": "#7b5ea7"}
WAIT = "#cfe0f3"


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["traceEvents"]


def build(events):
    names, order, slices, instants, flows = {}, {}, [], [], {}
    stacks = {}
    for e in events:
        tid, ph = e.get("tid", 0), e["ph"]
        if ph == "M":
            if e["name"] == "thread_name":
                names[tid] = e["args"]["name"]
            elif e["name"] == "thread_sort_index":
                order[tid] = e["args"]["sort_index"]
            continue
        ts = e["ts"]
        if ph == "B":
            stacks.setdefault(tid, []).append((ts, e["name"], e.get("cat", "")))
        elif ph == "E":
            if stacks.get(tid):
                b, name, cat = stacks[tid].pop()
                slices.append((tid, b, ts, name, cat))
        elif ph == "i":
            instants.append((tid, ts, e["name"]))
        elif ph in ("s", "f"):
            flows.setdefault(e["id"], {})[ph] = (tid, ts, e["name"])
    tids = sorted(names, key=lambda t: (order.get(t, t), t))
    return names, tids, slices, instants, [f for f in flows.values() if "s" in f and "f" in f]


def draw(events, width):
    names, tids, slices, instants, flows = build(events)
    times = [s[1] for s in slices] + [s[2] for s in slices] + [i[1] for i in instants]
    t0, t1 = (min(times), max(times)) if times else (0, 1)
    span = max(t1 - t0, 1e-6)
    plot = width - LEFT - RIGHT
    row = {t: i for i, t in enumerate(tids)}
    height = TOP + LANE * len(tids) + 30

    def x(ts):
        return LEFT + (ts - t0) / span * plot

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           '<defs><marker id="a" markerWidth="6" markerHeight="6" refX="5" refY="3" '
           'orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="#d2691e"/></marker></defs>']
    # the time axis: ticks in milliseconds
    step = 10 ** len(str(int(span / 1000 / 5) or 1)) / 10 * 1000 if span > 5000 else 1000
    while span / step > 10:
        step *= 2
    tick = 0.0
    while tick <= span + 1e-9:
        xx = x(t0 + tick)
        out.append(f'<line x1="{xx:.1f}" y1="{TOP - 6}" x2="{xx:.1f}" y2="{height - 30}" '
                   'stroke="#eee"/>')
        out.append(f'<text x="{xx:.1f}" y="{TOP - 10}" text-anchor="middle" fill="#555">'
                   f'{tick / 1000:g} ms</text>')
        tick += step
    for t in tids:
        y = TOP + row[t] * LANE
        out.append(f'<text x="{LEFT - 8}" y="{y + LANE / 2 + 4}" text-anchor="end">'
                   f'{html.escape(names[t])}</text>')
        out.append(f'<line x1="{LEFT}" y1="{y + LANE}" x2="{width - RIGHT}" y2="{y + LANE}" '
                   'stroke="#ddd"/>')
    for tid, b, e, name, cat in sorted(slices, key=lambda s: s[4] != "wait"):
        if tid not in row:
            continue
        y = TOP + row[tid] * LANE
        x0, w = x(b), max(x(e) - x(b), 1.5)
        if cat == "wait":
            out.append(f'<rect x="{x0:.1f}" y="{y + 8}" width="{w:.1f}" height="{LANE - 16}" '
                       f'fill="{WAIT}" stroke="#9bbbe0"><title>{html.escape(name)}</title></rect>')
            label = name if len(name) * 6 < w else (name.split(" 0x")[0] if
                                                    len(name.split(" 0x")[0]) * 6 < w else "")
            if label:
                out.append(f'<text x="{x0 + 3:.1f}" y="{y + LANE / 2 + 4}" fill="#234">'
                           f'{html.escape(label)}</text>')
        else:
            color = COLORS.get(name, "#2f6db5")
            out.append(f'<rect x="{x0:.1f}" y="{y + 5}" width="{w:.1f}" height="{LANE - 10}" '
                       f'fill="{color}"><title>{html.escape(name)}</title></rect>')
    for tid, ts, name in instants:
        if tid not in row or name == "spawned at":
            continue
        y = TOP + row[tid] * LANE
        color = {"end": "#b22", "spawn": "#2a2", "timer": "#555"}.get(name, "#888")
        out.append(f'<line x1="{x(ts):.1f}" y1="{y + 3}" x2="{x(ts):.1f}" y2="{y + LANE - 3}" '
                   f'stroke="{color}"><title>{html.escape(name)}</title></line>')
    for f in flows:
        (st, sts, _), (ft, fts, name) = f["s"], f["f"]
        if st not in row or ft not in row:
            continue
        y0 = TOP + row[st] * LANE + LANE / 2
        y1 = TOP + row[ft] * LANE + LANE / 2
        out.append(f'<line x1="{x(sts):.1f}" y1="{y0:.1f}" x2="{x(fts):.1f}" y2="{y1:.1f}" '
                   f'stroke="#d2691e" stroke-width="1" marker-end="url(#a)"><title>{name}'
                   '</title></line>')
    ly = height - 12
    legend = [("run", COLORS["run"]), ("waiting (label: on what)", WAIT),
              ("poll (loop blocked)", COLORS["poll"]), ("wake / spawn", "#d2691e"),
              ("end", "#b22")]
    lx = LEFT
    for text, color in legend:
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="12" height="10" fill="{color}"/>')
        out.append(f'<text x="{lx + 16}" y="{ly}">{html.escape(text)}</text>')
        lx += 30 + len(text) * 6
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("svg")
    ap.add_argument("--width", type=int, default=1100)
    a = ap.parse_args()
    svg = draw(load(a.trace), a.width)
    with open(a.svg, "w", encoding="utf-8") as f:
        f.write(svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
