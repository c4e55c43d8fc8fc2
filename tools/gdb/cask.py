# cask.py: gdb commands for programs using cask, on a live process or a core dump.
#
#   (gdb) source /usr/local/share/cask/gdb/cask.py     (make install puts it there)
#   (gdb) cask tasks          every live task of the selected thread's loop
#   (gdb) cask bt ID          the backtrace of task ID, walked from its saved context
#
# It reads cask's own structures (the library must have its debug info, as make builds it):
# the thread-local loop `cask__loop`, its list of live tasks, each task's waiter, and the
# stack pointer the context switch saved, from which the frame-pointer chain is followed
# (x86_64 and aarch64), exactly as cask_dump_tree does inside the process.
import gdb

STATES = {0: "new", 1: "ready", 2: "running", 3: "waiting", 4: "done"}


def _loop():
    try:
        loop = gdb.parse_and_eval("cask__loop")
    except gdb.error as e:
        raise gdb.GdbError("cask: cannot read cask__loop (%s); select a loop's thread" % e)
    if int(loop) == 0:
        raise gdb.GdbError("cask: no loop runs on the selected thread")
    return loop


def _tasks(loop):
    t = loop["all_head"]
    while int(t) != 0:
        yield t
        t = t["all_next"]


def _name(t):
    name = t["name"].string(length=32).split("\0")[0]
    return name or "Task-%d" % int(t["id"])


def _waits(t):
    if int(t["state"]) != 3 or int(t["waiter"]) == 0:
        return ""
    w = t["waiter"]
    what = w["what"].string() if int(w["what"]) else "?"
    if what in ("join", "shield", "group start") and int(w["obj"]):
        o = w["obj"].cast(t.type)
        return "%s task %d '%s'" % (what, int(o["id"]), _name(o))
    if what == "lock" and int(w["obj"]):
        lk = w["obj"].cast(gdb.lookup_type("cask_lock").pointer())
        owner = lk["owner_"]
        if int(owner):
            o = owner.cast(t.type)
            return "lock 0x%x held by task %d '%s'" % (int(w["obj"]), int(o["id"]), _name(o))
    if what.startswith("fd "):
        return "fd %d %s" % (int(w["value"]), what[3:])
    if int(w["obj"]):
        return "%s 0x%x" % (what, int(w["obj"]))
    return what


def _frames(t, limit=64):
    """Return addresses of a parked task, innermost first (as src/ctx/frame.c walks them)."""
    if int(t["stack"]["lo"]) == 0 or int(t["state"]) == 2:
        return []
    inf = gdb.selected_inferior()
    ptr = gdb.lookup_type("unsigned long")
    psize = ptr.sizeof
    lo, hi = int(t["stack"]["lo"]), int(t["stack"]["hi"])
    sp = int(t["ctx"]["sp"])
    if not lo <= sp < hi:
        return []

    def word(addr):
        return int.from_bytes(bytes(inf.read_memory(addr, psize)), "little")

    arch = gdb.selected_frame().architecture().name()
    if "aarch64" in arch:
        fp, pc = word(sp + 10 * psize), word(sp + 11 * psize)
    else:
        fp, pc = word(sp + 6 * psize), word(sp + 7 * psize)
    out = [pc]
    while len(out) < limit and lo <= fp and fp + 2 * psize <= hi and fp % psize == 0:
        ret, nxt = word(fp + psize), word(fp)
        if ret == 0:
            break
        out.append(ret)
        if nxt <= fp:
            break
        fp = nxt
    return out


def _describe(pc):
    look = pc - 1  # a return address points after the call
    block = gdb.block_for_pc(look)
    fn = None
    while block is not None and fn is None:
        fn = block.function
        block = block.superblock
    sal = gdb.find_pc_line(look)
    name = fn.print_name if fn else (gdb.execute("info symbol 0x%x" % look, to_string=True).split(" in ")[0].strip())
    where = ""
    if sal.symtab is not None:
        where = " at %s:%d" % (sal.symtab.filename, sal.line)
    return "0x%x in %s%s" % (pc, name, where)


class CaskCommand(gdb.Command):
    """cask tasks | cask bt ID: inspect cask's tasks (see tools/gdb/cask.py)."""

    def __init__(self):
        super().__init__("cask", gdb.COMMAND_USER, gdb.COMPLETE_NONE, True)


class CaskTasks(gdb.Command):
    """List the live tasks of the selected thread's loop: id, name, state, what each waits on."""

    def __init__(self):
        super().__init__("cask tasks", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        loop = _loop()
        n = 0
        print("%-6s %-24s %-8s %s" % ("id", "name", "state", "waits on"))
        for t in _tasks(loop):
            n += 1
            print("%-6d %-24s %-8s %s" % (int(t["id"]), _name(t), STATES.get(int(t["state"]), "?"), _waits(t)))
        print("%d task%s" % (n, "" if n == 1 else "s"))


class CaskBt(gdb.Command):
    """Print the backtrace of the task with the given id (a parked or ready task)."""

    def __init__(self):
        super().__init__("cask bt", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        try:
            want = int(arg, 0)
        except ValueError:
            raise gdb.GdbError("usage: cask bt ID")
        for t in _tasks(_loop()):
            if int(t["id"]) != want:
                continue
            print("task %d '%s' %s %s" % (want, _name(t), STATES.get(int(t["state"]), "?"), _waits(t)))
            if int(t["state"]) == 2:
                print("  running: use gdb's own bt on this thread")
                return
            try:
                frames = _frames(t)
            except (gdb.MemoryError, gdb.error, OverflowError) as e:
                # gcore on Linux 6.13+ cannot read stacks behind MADV_GUARD_INSTALL guards
                # (the kernel's own core dumps can): say so instead of a Python error
                print("  (its stack cannot be read here: %s; a core dumped by the kernel has it)" % e)
                return
            if not frames:
                print("  (no stack yet: it has not run)")
            for i, pc in enumerate(frames):
                print("  #%-2d %s" % (i, _describe(pc)))
            return
        raise gdb.GdbError("cask: no live task %d on this loop" % want)


CaskCommand()
CaskTasks()
CaskBt()
