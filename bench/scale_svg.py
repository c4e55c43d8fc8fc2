#!/usr/bin/env python3
"""scale_svg.py: draws the scale curves of bench/scale.sh as one SVG (standard library only).

Reads SCALE lines (build/bench/scale.txt by default), writes docs/scale.svg with two panels
(cost per task beyond the 2 s sleep, in ns; bytes per task), log-scaled task counts on the x
axis, one line per peer, and prints the Markdown table that goes under the chart in
docs/benchmarks.md.

usage: bench/scale_svg.py [results] [svg]
"""
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLEEP_S = 2.0
COLORS = {"cask": "#c0392b", "cask_compact": "#e67e22", "go": "#2471a3", "node": "#229954"}
NAMES = {"cask": "cask (ordinary tasks)", "cask_compact": "cask (compact tasks)", "go": "Go (goroutines)",
         "node": "Node.js (async)"}


def read(path):
    rows = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[0] != "SCALE":
                continue
            kv = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
            n = int(kv["n"])
            wall = float(kv["wall_s"])
            rows.setdefault(parts[1], {})[n] = {
                "ns": max(wall - SLEEP_S, 0.0) * 1e9 / n,
                "bytes": float(kv["bytes_per_task"]),
                "wall": wall,
            }
    return rows


def nice_max(v):
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= v:
            return m * e
    return 10 * e


def panel(out, rows, key, title, unit, x0, y0, w, h, ns, log=False):
    xs = sorted(ns)
    lo, hi = math.log10(xs[0]), math.log10(xs[-1])
    if hi == lo:
        hi = lo + 1
    vals = [r[key] for p in rows.values() for r in p.values()]
    ymax = nice_max(max(vals) * 1.05)
    if log:  # powers of ten around the values (cost spans orders of magnitude)
        ylo = 10 ** math.floor(math.log10(max(min(v for v in vals if v > 0), 1e-9)))
        yhi = 10 ** math.ceil(math.log10(max(vals)))
        if yhi <= ylo:
            yhi = ylo * 10

    def px(n):
        return x0 + (math.log10(n) - lo) / (hi - lo) * w

    def py(v):
        if log:
            v = max(v, ylo)
            return y0 + h - (math.log10(v) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo)) * h
        return y0 + h - v / ymax * h

    out.append(f'<text x="{x0 + w / 2}" y="{y0 - 12}" text-anchor="middle" '
               f'font-weight="bold">{title}</text>')
    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#888"/>')
    ticks = [ymax * i / 5 for i in range(6)]
    if log:
        ticks = [10 ** e for e in range(round(math.log10(ylo)), round(math.log10(yhi)) + 1)]
    for v in ticks:
        y = py(v)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{v:,.0f}</text>')
    for n in xs:
        x = px(n)
        label = f"{n // 1000000}M" if n >= 1000000 else f"{n // 1000}k"
        out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + h}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{y0 + h + 16}" text-anchor="middle">{label}</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 34}" text-anchor="middle">tasks at once'
               f'</text>')
    out.append(f'<text x="{x0 - 50}" y="{y0 + h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 {x0 - 50} {y0 + h / 2})">{unit}</text>')
    for peer, pts in rows.items():
        c = COLORS.get(peer, "#555")
        ps = sorted(pts)
        d = " ".join(f"{px(n):.1f},{py(pts[n][key]):.1f}" for n in ps)
        out.append(f'<polyline points="{d}" fill="none" stroke="{c}" stroke-width="2.5"/>')
        for n in ps:
            out.append(f'<circle cx="{px(n):.1f}" cy="{py(pts[n][key]):.1f}" r="4" fill="{c}"/>')


def main():
    res = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/bench/scale.txt")
    svg = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs/scale.svg")
    rows = read(res)
    if not rows:
        sys.exit(f"scale_svg: no SCALE lines in {res}")
    ns = sorted({n for p in rows.values() for n in p})
    W, H = 900, 420
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    panel(out, rows, "ns", "Cost per task (wall time beyond the 2 s sleep / N)",
          "ns per task (log scale)", 90, 50, 320, 280, ns, log=True)
    panel(out, rows, "bytes", "Memory per task (peak RSS growth / N)", "bytes per task",
          540, 50, 320, 280, ns)
    lx = 60
    for peer in rows:
        c = COLORS.get(peer, "#555")
        out.append(f'<rect x="{lx}" y="{H - 30}" width="14" height="4" fill="{c}"/>')
        out.append(f'<text x="{lx + 20}" y="{H - 24}">{NAMES.get(peer, peer)}</text>')
        lx += 205
    out.append("</svg>")
    with open(svg, "w") as f:
        f.write("\n".join(out) + "\n")
    print("| tasks | " + " | ".join(NAMES.get(p, p) for p in rows) + " |")
    print("|---:|" + "---:|" * len(rows))
    for n in ns:
        cells = []
        for p in rows:
            r = rows[p].get(n)
            cells.append(f"{r['ns']:,.0f} ns, {r['bytes']:,.0f} B" if r else "-")
        print(f"| {n:,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
