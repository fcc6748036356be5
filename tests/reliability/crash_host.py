"""A host process for the crash-cycle test, killed with SIGKILL at a random point.

usage: crash_host.py chunk <handle prefix>   create and close small chunks in a loop
       crash_host.py env <project> <scene>   start a GodotEnv, then reset and step it forever
       crash_host.py vector <project> <scene> the same with a GodotVectorEnv of 2 engines x 2 agents
       crash_host.py render <project> <scene> <data folder>  the same with a rendering GodotEnv (a private
                                              Xvfb; Godot's user data, its shader cache, in <data folder>)
       crash_host.py compat <handle prefix>  create and close compatibility-API chunks (fixed names)
       crash_host.py import <project>        run the first import of a fresh project
       crash_host.py engine <project> <scene> <n engines>  step an env until the test kills an engine:
                                              prints "RAISED <module>.<error>", then waits to be killed
       crash_host.py serve <socket fd>        a fork server: imports what every host imports
                                              once, then forks one host per request

Prints "GO" right before the phase in which it is meant to be killed, then works until killed.

The fork server (used by test_crash_cycles.py) makes each host a fork of a process that has
only imported the package: no chunk, engine, display or thread of ours exists before the fork,
so the host is what an exec'd one is, minus the half second of imports that otherwise was most
of a cycle's CPU. Requests are SOCK_SEQPACKET packets: {"start": [mode, args...], "tag": [name,
value]} with the write end of the host's stdout pipe (SCM_RIGHTS), answered with the host's pid
and a pidfd of it (SCM_RIGHTS); {"kill": pid}: SIGKILL and reap, answered once it is reaped (a
host that ended by itself was reaped when it did).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import traceback


def step_until_killed(env) -> None:
    env.reset(seed=0)
    while True:  # episodes end (and restart) for as long as the kill takes to come
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()


def run(mode: str, argv: list[str]) -> None:
    """argv[2:] are the mode's arguments (as on the command line)."""
    if mode == "chunk":
        from godot_aigym import SharedMemory

        print("GO", flush=True)
        i = 0
        while True:
            mem = SharedMemory(handle=f"{argv[2]}{i % 4}", size=1 << 20, capacity=8)
            mem.newFloatTensor("obs", 1024)
            mem.newSemaphore("sem", 0)
            mem.close()
            i += 1
    elif mode == "env":
        from godot_aigym.env import GodotEnv

        print("GO", flush=True)
        env = GodotEnv(argv[2], argv[3])
        step_until_killed(env)
    elif mode == "vector":
        from godot_aigym.env import GodotVectorEnv

        print("GO", flush=True)
        venv = GodotVectorEnv(argv[2], argv[3], n_agents=2, n_engines=2)
        venv.reset(seed=0)
        while True:
            venv.step(venv.action_space.sample())
    elif mode == "render":
        from godot_aigym.env import GodotEnv

        print("GO", flush=True)
        # a private Xvfb of this host; Godot's user data (its shader cache) in argv[4]
        env = GodotEnv(argv[2], argv[3], rendering=True, env={"XDG_DATA_HOME": argv[4]})
        step_until_killed(env)
    elif mode == "compat":
        from godot_aigym.compat import SharedMemorySemaphore, SharedMemoryTensor

        print("GO", flush=True)
        i = 0
        while True:  # the original's fixed handles, no aigym_ prefix
            mem = SharedMemoryTensor(f"{argv[2]}{i % 4}", size=1 << 20)
            mem.newFloatTensor("observation", 8)
            SharedMemorySemaphore("sem_action", 0)
            mem.close()
            i += 1
    elif mode == "engine":  # the test kills an engine (at start-up or stepping), not this host
        from godot_aigym.env import GodotEnv, GodotVectorEnv

        print("GO", flush=True)
        try:
            if argv[4] == "1":
                step_until_killed(GodotEnv(argv[2], argv[3]))
            venv = GodotVectorEnv(argv[2], argv[3], n_agents=2, n_engines=int(argv[4]))
            venv.reset(seed=0)
            while True:
                venv.step(venv.action_space.sample())
        except Exception as exc:  # noqa: BLE001 - which error it was is the test's to judge
            print(f"RAISED {type(exc).__module__}.{type(exc).__name__}", flush=True)
        while True:  # alive: what the env left is checked before any exit-time clean-up
            signal.pause()
    elif mode == "import":
        from godot_aigym.engine import ensure_imported

        print("GO", flush=True)
        ensure_imported(argv[2])
        while True:  # imported before the kill: wait for it
            signal.pause()
    else:
        raise SystemExit(f"unknown mode {mode!r}")


def serve(fd: int) -> None:
    import godot_aigym.compat  # noqa: F401  (every mode's imports, once)
    import godot_aigym.engine  # noqa: F401
    import godot_aigym.env  # noqa: F401

    sock = socket.socket(fileno=fd)
    # A host that ends by itself is reaped as soon as it does: SIGCHLD wakes the select below.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    live: set[int] = set()  # forked, not yet reaped: only these pids may be signalled (no reuse)
    while True:
        ready, _, _ = select.select([sock, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
            reap_finished(live)
        if sock not in ready:
            continue
        msg, fds, _, _ = socket.recv_fds(sock, 4096, 1)
        if not msg:  # the test closed its end (its hosts are killed and reaped)
            return
        request = json.loads(msg)
        if "kill" in request:  # SIGKILL and reap, as Popen.kill() + wait() would
            if request["kill"] in live:  # else it ended by itself and was reaped already
                os.kill(request["kill"], signal.SIGKILL)
                os.waitpid(request["kill"], 0)
                live.discard(request["kill"])
            sock.send(b"dead")
            continue
        pid = os.fork()
        if pid == 0:
            host(request, fds[0], sock, [wake_r, wake_w])
        live.add(pid)
        os.close(fds[0])
        pidfd = os.pidfd_open(pid)  # valid for the test even once the host is reaped here
        socket.send_fds(sock, [str(pid).encode()], [pidfd])
        os.close(pidfd)


def reap_finished(live: set[int]) -> None:
    while live:
        pid, _ = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        live.discard(pid)


def host(request: dict, stdout_fd: int, sock: socket.socket, wake_fds: list[int]) -> None:
    """The forked host: never returns into the server's loop. A start-up that raises ends it with
    sys.exit(1), so its atexit clean-up (chunks, logs, placement records, X servers) runs as in
    an exec'd host; the server registered the same hooks at import but owns nothing (the
    after-fork hooks clear a child's inherited state), so nothing is cleaned twice."""
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sock.close()
        for fd in wake_fds:
            os.close(fd)
        os.environ[request["tag"][0]] = request["tag"][1]  # inherited by its engines and imports
        os.dup2(stdout_fd, 1)
        os.close(stdout_fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        run(request["start"][0], [sys.argv[0], *request["start"]])
    except BaseException:  # noqa: BLE001 - shown, then the host ends (never back in the server's loop)
        traceback.print_exc()
        sys.stderr.flush()
    sys.exit(1)


if sys.argv[1] == "serve":
    serve(int(sys.argv[2]))
else:
    run(sys.argv[1], sys.argv)
