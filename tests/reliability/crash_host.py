"""A host process for the crash-cycle test, killed with SIGKILL at a random point.

usage: crash_host.py chunk <handle prefix>   create and close small chunks in a loop
       crash_host.py env <project> <scene>   start a GodotEnv, then reset and step it forever
       crash_host.py vector <project> <scene> the same with a GodotVectorEnv of 2 engines x 2 agents
       crash_host.py render <project> <scene> the same with a rendering GodotEnv (a private Xvfb)
       crash_host.py compat <handle prefix>  create and close compatibility-API chunks (fixed names)
       crash_host.py import <project>        run the first import of a fresh project
       crash_host.py serve <socket fd>        a fork server: imports what every host imports
                                              once, then forks one host per request

Prints "GO" right before the phase in which it is meant to be killed, then works until killed.

The fork server (used by test_crash_cycles.py) makes each host a fork of a process that has
only imported the package: no chunk, engine, display or thread of ours exists before the fork,
so the host is what an exec'd one is, minus the half second of imports that otherwise was most
of a cycle's CPU. Requests are SOCK_SEQPACKET packets: {"start": [mode, args...], "tag": [name,
value]} with the write end of the host's stdout pipe (SCM_RIGHTS), answered with the host's pid;
{"kill": pid}: SIGKILL and reap, answered once it is reaped.
"""

from __future__ import annotations

import json
import os
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
        env = GodotEnv(argv[2], argv[3], rendering=True)  # a private Xvfb of this host
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
    while True:
        msg, fds, _, _ = socket.recv_fds(sock, 4096, 1)
        if not msg:  # the test closed its end (its hosts are killed and reaped)
            return
        request = json.loads(msg)
        if "kill" in request:  # SIGKILL and reap, as Popen.kill() + wait() would
            os.kill(request["kill"], signal.SIGKILL)
            os.waitpid(request["kill"], 0)
            sock.send(b"dead")
            continue
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                os.environ[request["tag"][0]] = request["tag"][1]  # inherited by its engines and imports
                os.dup2(fds[0], 1)
                os.close(fds[0])
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.close(null)
                run(request["start"][0], [sys.argv[0], *request["start"]])
            except BaseException:  # noqa: BLE001 - shown, then the host ends (never back in this loop)
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(1)
        os.close(fds[0])
        sock.send(str(pid).encode())


if sys.argv[1] == "serve":
    serve(int(sys.argv[2]))
else:
    run(sys.argv[1], sys.argv)
