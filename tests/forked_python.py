"""``python -c`` children forked by python_fork_server.py, behind a ``subprocess.Popen`` handle.

A fresh interpreter spends ~0.25 CPU-s on start-up and imports (numpy's ~0.2) before a test's
child does anything; a fork of a server that has imported them costs a few milliseconds. The
handle is a Popen (``SharedMemory.set_peer`` and the liveness checks take it as one): its pid is
the child's, signals go through a pidfd of the child, and its exit code comes from the server,
which reaps it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SERVER = Path(__file__).resolve().parent / "python_fork_server.py"


class PythonForkServer:
    """A server started with the children's environment, having imported ``preload``."""

    def __init__(self, env: dict[str, str], preload: tuple[str, ...]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._log = tempfile.TemporaryFile()  # the server's own errors, quoted if it dies
        self._proc = subprocess.Popen([sys.executable, str(SERVER), str(theirs.fileno()), *preload], env=env,
                                      pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=self._log)
        theirs.close()
        self._sock = ours
        self._exits: dict[int, int] = {}  # child number -> exit code
        self._started: list[tuple[int, int, int]] = []  # (pid, number, pidfd) not yet taken by spawn()
        self._spawning = threading.Lock()  # one request at a time: "started" answers come in order
        self._cond = threading.Condition()  # guards the three fields above and below
        self._reading = False  # a thread reads the socket; the others wait on _cond, not on the socket

    def spawn(self, code: str, args: tuple[str, ...] = (), output: int | None = None) -> ForkedChild:
        """``python -c code *args``, forked; stdin, stdout and stderr piped (text), or with ``output``
        (a file descriptor) stdout and stderr both there and stdin from /dev/null, as Popen's
        ``stdout=f, stderr=STDOUT`` (the handle then has no pipes)."""
        if output is None:
            ends = [os.pipe() for _ in range(3)]  # stdin, stdout, stderr: (read, write) each
            theirs, ours = [ends[0][0], ends[1][1], ends[2][1]], [ends[0][1], ends[1][0], ends[2][0]]
        else:
            theirs, ours = [os.open(os.devnull, os.O_RDONLY), os.dup(output), os.dup(output)], [None] * 3
        with self._spawning:
            try:
                socket.send_fds(self._sock, [json.dumps({"code": code, "args": list(args)}).encode()], theirs)
            finally:
                for fd in theirs:
                    os.close(fd)
            # a safety net for a broken server only
            if not self._pump(lambda: bool(self._started), 60):
                raise RuntimeError(f"the Python fork server did not answer in 60 s{self._last_words()}")
            with self._cond:
                pid, number, pidfd = self._started.pop(0)
        return ForkedChild(self, pid, number, pidfd, [sys.executable, "-c", code, *args], *ours)

    def exit_code(self, number: int, timeout: float | None) -> int | None:
        """Child `number`'s exit code once the server reaped it; None if not within ``timeout``."""
        if not self._pump(lambda: number in self._exits, timeout):
            return None
        with self._cond:
            return self._exits[number]

    def _pump(self, done, timeout: float | None) -> bool:
        """Read answers until ``done()`` (checked under the lock) or ``timeout``: one thread reads
        the socket at a time, and none holds the lock while it waits, so a thread waiting for one
        child's exit never stops another from starting or reaping a child."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not done():
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if self._reading:  # another thread reads: it files what comes and wakes us
                    if left == 0.0:
                        return False
                    self._cond.wait(left)
                    continue
                self._reading = True
                self._cond.release()
                try:  # timeout 0 (poll()) still reads what has arrived
                    ready = select.select([self._sock], [], [], left)[0]
                    answer = self._receive() if ready else None
                finally:
                    self._cond.acquire()
                    self._reading = False
                    self._cond.notify_all()
                if answer is None:
                    return done()
                self._take(*answer)
            return True

    def _receive(self) -> tuple[dict, list[int]]:
        msg, fds, _, _ = socket.recv_fds(self._sock, 4096, 1)
        if not msg:
            raise RuntimeError(f"the Python fork server is gone{self._last_words()}")
        return json.loads(msg), fds

    def _take(self, answer: dict, fds: list[int]) -> None:
        """File one answer (under the lock): an exit, or a started child for spawn()."""
        if "exited" in answer:
            self._exits[answer["exited"]] = answer["code"]
        else:
            self._started.append((answer["started"], answer["id"], fds[0]))

    def _last_words(self) -> str:
        self._log.seek(0)
        return f" (rc={self._proc.poll()}):\n" + self._log.read().decode(errors="replace")

    def close(self) -> None:
        self._sock.close()  # the server returns from its loop
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()


class ForkedChild(subprocess.Popen):
    """A Popen of a forked child: pid, text pipes, poll/wait/send_signal/kill/communicate."""

    def __init__(self, server: PythonForkServer, pid: int, number: int, pidfd: int, args: list[str],
                 stdin: int | None, stdout: int | None, stderr: int | None) -> None:  # noqa: D107 - Popen's would start a process
        self._child_created = False  # Popen.__del__: the server reaps the child, not us
        self._server, self._number, self._pidfd = server, number, pidfd
        self.args = args
        self.pid, self.returncode = pid, None
        # the handle's pipes, closed as Popen's are
        self.stdin = open(stdin, "w") if stdin is not None else None  # noqa: SIM115
        self.stdout = open(stdout) if stdout is not None else None  # noqa: SIM115
        self.stderr = open(stderr) if stderr is not None else None  # noqa: SIM115

    def poll(self) -> int | None:
        if self.returncode is None:
            self._exited(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and not self._exited(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def _exited(self, timeout: float | None) -> bool:
        code = self._server.exit_code(self._number, timeout)
        if code is None:
            return False
        self.returncode = code
        self._close_pidfd()
        return True

    def send_signal(self, sig: int) -> None:
        if self._pidfd is None:
            return  # reaped: the pid may belong to another process by now
        try:
            signal.pidfd_send_signal(self._pidfd, sig)
        except ProcessLookupError:
            pass  # it has exited

    def communicate(self, input: str | None = None, timeout: float | None = None) -> tuple[str, str]:
        if input:
            self.stdin.write(input)
        self.stdin.close()
        out: dict[str, str] = {}
        readers = [threading.Thread(target=lambda k=k, f=f: out.__setitem__(k, f.read()), daemon=True)
                   for k, f in (("out", self.stdout), ("err", self.stderr))]
        deadline = None if timeout is None else time.monotonic() + timeout
        for r in readers:
            r.start()
        for r in readers:
            r.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if r.is_alive():
                raise subprocess.TimeoutExpired(self.args, timeout)
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return out["out"], out["err"]

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def __del__(self) -> None:
        self._close_pidfd()
