#!/usr/bin/env python3
"""Writes docs/errors.md from CASK_ERRNO_MAP in include/cask.h (the one table of error codes).

With --check, exits 1 if docs/errors.md is not what the table generates (make test runs it).
"""
import re, sys, pathlib

root = pathlib.Path(__file__).resolve().parent.parent
header = (root / "include/cask.h").read_text()
m = re.search(r"#define CASK_ERRNO_MAP\(X\)(.*?)\n\n", header, re.S)
rows = re.findall(r'X\((\w+),\s*"([^"]*)"\)', m.group(1))
out = ["# cask: errors", "",
       "Every cask call that can fail returns a negative errno value; this table, generated from",
       "`CASK_ERRNO_MAP` in `include/cask.h` by `tools/gen_errors.py`, lists the codes with a",
       "meaning specific to cask and the asyncio exception each stands for. `cask_strerror(rc)`",
       "gives the text below, `cask_errname(rc)` the symbol. Other errno values (from the",
       "operating system: `-ECONNRESET`, `-EMFILE`, ...) pass through unchanged. Tasks may fail",
       "with application codes at or below `CASK_EUSER` (`CASK_EUSER - 1`, `CASK_EUSER - 2`, ...),",
       "which no errno value reaches; `cask_errname` prints them as `EUSER-n`.", "",
       "| code | meaning |", "|---|---|"]
out += [f"| `-{code}` | {text} |" for code, text in rows]
text = "\n".join(out) + "\n"
path = root / "docs/errors.md"
if "--check" in sys.argv:
    if not path.exists() or path.read_text() != text:
        print("docs/errors.md is out of date: run tools/gen_errors.py")
        sys.exit(1)
    print("docs/errors.md matches CASK_ERRNO_MAP")
else:
    path.write_text(text)
