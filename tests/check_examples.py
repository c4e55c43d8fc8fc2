#!/usr/bin/env python3
"""Runs the example programs and compares them with their expected output.

Each expected file examples/expected/NAME.out holds the lines CPython printed for the seed
program NAME, each stamped "[ t.t] " with the seconds since start, ending with "(exit)". The C
twin must print the same lines in the same order, each within --tolerance seconds of the
expected moment. Examples without an expected file must exit 0 within --timeout seconds.
--showcase runs every example in order, announcing each and stamping its lines (make run).
"""
import argparse, os, re, selectors, shlex, subprocess, sys, time

STAMP = re.compile(r"^\[\s*([0-9.]+)\] ?(.*)$")


def run(cmd, timeout, echo=False):
    """Runs cmd; returns (lines with times, exit code, stderr text)."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ, "out")
    sel.register(p.stderr, selectors.EVENT_READ, "err")
    lines, err, buf, open_ = [], b"", b"", 2
    ebuf = b""  # stderr not yet echoed (showcase)
    deadline = start + timeout
    while open_:
        left = deadline - time.monotonic()
        if left <= 0:
            p.kill()
            p.wait()
            return lines, "timeout", err.decode(errors="replace")
        for key, _ in sel.select(min(left, 0.5)):
            data = os.read(key.fileobj.fileno(), 65536)
            if not data:
                sel.unregister(key.fileobj)
                open_ -= 1
                continue
            if key.data == "err":
                err += data
                if echo:  # whole lines, stamped and marked, so they stay readable
                    ebuf += data
                    while b"\n" in ebuf:
                        line, ebuf = ebuf.split(b"\n", 1)
                        now = time.monotonic() - start
                        print(f"[{now:4.1f}] (stderr) {line.decode(errors='replace')}", flush=True)
                continue
            buf += data
            now = time.monotonic() - start
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode(errors="replace")
                lines.append((now, text))
                if echo:
                    print(f"[{now:4.1f}] {text}", flush=True)
    rc = p.wait()
    if echo and ebuf:
        print(f"[{time.monotonic() - start:4.1f}] (stderr) {ebuf.decode(errors='replace')}")
    if buf:
        lines.append((time.monotonic() - start, buf.decode(errors="replace")))
    lines.append((time.monotonic() - start, "(exit)"))
    if echo:
        print(f"[{lines[-1][0]:4.1f}] (exit)", flush=True)
    return lines, rc, err.decode(errors="replace")


def describe(src):
    """The first paragraph of the source's head comment, without the file name: what it shows."""
    try:
        text = open(src, encoding="utf-8").read().lstrip()
    except OSError:
        return ""
    if not text.startswith("/*"):
        return ""  # no head comment
    head = text.split("*/", 1)[0]
    words = []
    for line in head.splitlines():
        line = line.strip().lstrip("/*").strip()
        if not line and words:
            break
        words.append(line)
    text = " ".join(w for w in words if w)
    return re.sub(r"^\S+\.c:\s*", "", text)


def load_expected(path):
    out = []
    for raw in open(path, encoding="utf-8"):
        m = STAMP.match(raw.rstrip("\n"))
        if m:  # lines without a stamp are CPython's stderr warnings: not compared
            out.append((float(m.group(1)), m.group(2)))
    return out


def compare(name, got, want, tol, exit_slack=0.0):
    problems = []
    if [t for _, t in got] != [t for _, t in want]:
        problems.append("lines differ:")
        for i in range(max(len(got), len(want))):
            g = got[i][1] if i < len(got) else "<missing>"
            w = want[i][1] if i < len(want) else "<missing>"
            mark = "  " if g == w else "! "
            problems.append(f"  {mark}got {g!r:60} want {w!r}")
        return problems
    for (gt, text), (wt, _) in zip(got, want):
        # CPython's stamps are rounded to 0.1 s and include its own ~0.05 s start-up
        # a sanitizer's own work at exit (LeakSanitizer's scan) is not the program's
        late = tol + (exit_slack if text == "(exit)" else 0.0)
        if gt - wt > late or wt - gt > tol:
            problems.append(f"  {text!r}: at {gt:.2f} s, expected {wt:.1f} s (tolerance {tol})")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--expected", default="examples/expected")
    ap.add_argument("--tolerance", type=float, default=0.15)
    ap.add_argument("--exit-slack", type=float, default=0.0,
                    help="extra seconds the (exit) line may come late (sanitizer builds)")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--runner", default="")
    ap.add_argument("--showcase", action="store_true")
    ap.add_argument("--src", default="examples", help="where the sources are (--showcase)")
    ap.add_argument("only", nargs="*")
    a = ap.parse_args()
    names = sorted(n for n in os.listdir(a.bin)
                   if os.access(os.path.join(a.bin, n), os.X_OK) and not n.endswith(".d"))
    if a.only:
        names = [n for n in names if any(o in n for o in a.only)]
    runner = shlex.split(a.runner)
    if a.showcase:
        for n in names:
            what = describe(os.path.join(a.src, n + ".c"))
            print(f"\n=== examples/{n}.c" + (f": {what}" if what else ""), flush=True)
            _, rc, _ = run(runner + [os.path.join(a.bin, n)], a.timeout, echo=True)
            if rc != 0:
                print("(timed out)" if rc == "timeout" else f"(exit status {rc})")
        print(f"\n{len(names)} examples shown")
        return 0
    passed = failed = 0
    for n in names:
        exp = os.path.join(a.expected, n + ".out")
        got, rc, err = run(runner + [os.path.join(a.bin, n)], a.timeout)
        problems = []
        if os.path.exists(exp):
            problems = compare(n, got, load_expected(exp), a.tolerance, a.exit_slack)
        elif rc != 0:
            problems = [f"  exit status {rc}", *("  " + l for l in err.splitlines()[-15:])]
        if rc == "timeout":
            problems.insert(0, "  timed out")
        if problems:
            failed += 1
            print(f"FAIL example {n}")
            print("\n".join(problems))
            if err.strip():
                print("  stderr:\n" + "\n".join("    " + l for l in err.splitlines()[-10:]))
        else:
            passed += 1
            print(f"ok   example {n}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
