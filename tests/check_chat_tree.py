#!/usr/bin/env python3
"""The task tree of the chat server (examples/44_chat.c) with clients connected.

Starts the server on a free port, connects three clients that send their names and a line,
sends SIGUSR1 (the example's dump signal), then SIGINT, and checks the tree it printed: the
accepting task under main, one 'conn' task per client reading its socket, each with its
writer task waiting on its queue, and the parked functions in the backtraces.
Usage: check_chat_tree.py BUILD_DIR [--show]
"""
import os, re, signal, socket, subprocess, sys, time


def main():
    binary = os.path.join(sys.argv[1], "examples", "44_chat")
    with socket.socket() as s:  # a port free right now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([binary, str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    clients = []
    try:
        for _ in range(100):
            try:
                clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                break
            except OSError:
                time.sleep(0.05)
        for _ in range(2):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        for c, name in zip(clients, ["alice", "bob", "carol"]):
            c.sendall(name.encode() + b"\n")
        time.sleep(0.3)  # the names are read: all three are members
        clients[0].sendall(b"hello all\n")
        got = b""
        while b"hello all" not in got:  # bob has it: every member is in the room
            got += clients[1].recv(4096)
        p.send_signal(signal.SIGUSR1)
        time.sleep(0.5)  # the tree is written at the next iteration
    finally:
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
        for c in clients:
            c.close()
    err = err.decode()
    problems = []
    tree = err[err.find("cask: signal 10: task tree"):]
    if not tree:
        problems.append("no task tree on stderr")
    want = [
        r"task tree: 8 tasks\n",
        r"#1 'Task-1' waiting [0-9.]+ s: server 0x",
        r"\n  #2 'server' waiting [0-9.]+ s: fd \d+ read\n",
    ]
    for w in want:
        if not re.search(w, tree):
            problems.append(f"missing {w!r}")
    conns = re.findall(r"\n    #\d+ 'conn' waiting [0-9.]+ s: fd \d+ read\n", tree)
    writers = re.findall(r"\n      #\d+ 'Task-\d+' waiting [0-9.]+ s: queue get 0x[0-9a-f]+", tree)
    if len(conns) != 3 or len(writers) != 3:
        problems.append(f"{len(conns)} conn tasks and {len(writers)} writers, expected 3 and 3")
    # function and file:line with libdw; a build without it (DW=0) names exported functions
    # only, through dladdr, and the example's own are static
    names = ["cask_stream_readline", "cask_queue_get"]
    if "(task.c:" in tree:
        names += ["chat (44_chat.c:", "writer (44_chat.c:", "spawned at chat (44_chat.c:",
                  "accept_main (server.c:"]
    for fn in names:
        if fn not in tree:
            problems.append(f"no {fn!r} in the backtraces")
    if p.returncode != 0:
        problems.append(f"exit status {p.returncode}")
    if "--show" in sys.argv:
        print(tree)
    if problems:
        print("check_chat_tree: FAIL\n  " + "\n  ".join(problems) + "\n--- stderr:\n" + err)
        return 1
    print("check_chat_tree: ok (3 clients, 8 tasks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
