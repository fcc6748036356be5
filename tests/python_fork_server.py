"""A fork server for the tests' Python children (usage: python_fork_server.py <socket fd> <module>...).

Imports the given modules once (numpy and godot_aigym.shm: ~0.2 CPU-s of a child's ~0.25), then
forks one child per request; the child runs the request's code as ``python -c`` would, as the
main module of a single-threaded process that has imported those modules and created nothing: no
chunk, signal handler or thread of ours exists before the fork (the shm package installs its
SIGINT/SIGTERM chain when a process registers its first chunk, and its after-fork hook clears
inherited state), and the child ends through the interpreter's normal exit (atexit, an unhandled
exception's exit code 1, KeyboardInterrupt's death by SIGINT, the signal dispositions the code
sets, a crash's signal).

Requests are SOCK_SEQPACKET packets: {"code": text, "args": [...]} (``sys.argv[1:]``), with the
child's stdin, stdout and stderr (SCM_RIGHTS). Answers: {"started": pid, "id": n} with a pidfd of the
child (signals reach that process or none, even once the pid is reused), and {"exited": n, "code":
returncode} once it is reaped (``subprocess.Popen``'s convention: -N for a death by signal N). `n`
counts the children from 1: unlike a pid, never reused, so an exit is never taken for a later
child's. The server ends when the test closes its socket.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import socket
import sys


def serve(sock: socket.socket, preload: list[str]) -> dict | None:
    """Serve until the test goes (None); in a forked child, return the request it must run."""
    for module in preload:  # what every child imports, once
        importlib.import_module(module)
    live: dict[int, tuple[int, int]] = {}  # pidfd -> (pid, child number), forked and not yet reaped
    forked = 0
    while True:
        ready, _, _ = select.select([sock, *live], [], [])
        for pidfd in [r for r in ready if r is not sock]:
            pid, number = live.pop(pidfd)
            _, status = os.waitpid(pid, 0)
            os.close(pidfd)
            sock.send(json.dumps({"exited": number, "code": os.waitstatus_to_exitcode(status)}).encode())
        if sock not in ready:
            continue
        msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, 3)
        if not msg:
            return None
        forked += 1
        pid = os.fork()
        if pid == 0:
            sock.close()
            for pidfd in live:
                os.close(pidfd)
            for target, fd in enumerate(fds):  # stdin, stdout, stderr
                os.dup2(fd, target)
                os.close(fd)
            return json.loads(msg)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        live[pidfd] = (pid, forked)
        socket.send_fds(sock, [json.dumps({"started": pid, "id": forked}).encode()], [pidfd])


if __name__ == "__main__":
    _request = serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2:])
    if _request is None:
        sys.exit(0)
    sys.argv = ["-c", *_request["args"]]
    exec(compile(_request["code"], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
