"""A host process for the crash-cycle test, killed with SIGKILL at a random point.

usage: crash_host.py chunk <handle prefix>   create and close small chunks in a loop
       crash_host.py env <project> <scene>   start a GodotEnv, then reset and step it forever
       crash_host.py vector <project> <scene> the same with a GodotVectorEnv of 2 engines x 2 agents
       crash_host.py render <project> <scene> the same with a rendering GodotEnv (a private Xvfb)
       crash_host.py compat <handle prefix>  create and close compatibility-API chunks (fixed names)
       crash_host.py import <project>        run the first import of a fresh project

Prints "GO" right before the phase in which it is meant to be killed, then works until killed.
"""

from __future__ import annotations

import sys



def step_until_killed(env) -> None:
    env.reset(seed=0)
    while True:  # episodes end (and restart) for as long as the kill takes to come
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()


mode = sys.argv[1]
if mode == "chunk":
    from godot_aigym import SharedMemory

    print("GO", flush=True)
    i = 0
    while True:
        mem = SharedMemory(handle=f"{sys.argv[2]}{i % 4}", size=1 << 20, capacity=8)
        mem.newFloatTensor("obs", 1024)
        mem.newSemaphore("sem", 0)
        mem.close()
        i += 1
elif mode == "env":
    from godot_aigym.env import GodotEnv

    print("GO", flush=True)
    env = GodotEnv(sys.argv[2], sys.argv[3])
    step_until_killed(env)
elif mode == "vector":
    from godot_aigym.env import GodotVectorEnv

    print("GO", flush=True)
    venv = GodotVectorEnv(sys.argv[2], sys.argv[3], n_agents=2, n_engines=2)
    venv.reset(seed=0)
    while True:
        venv.step(venv.action_space.sample())
elif mode == "render":
    from godot_aigym.env import GodotEnv

    print("GO", flush=True)
    env = GodotEnv(sys.argv[2], sys.argv[3], rendering=True)  # a private Xvfb of this host
    step_until_killed(env)
elif mode == "compat":
    from godot_aigym.compat import SharedMemorySemaphore, SharedMemoryTensor

    print("GO", flush=True)
    i = 0
    while True:  # the original's fixed handles, no aigym_ prefix
        mem = SharedMemoryTensor(f"{sys.argv[2]}{i % 4}", size=1 << 20)
        mem.newFloatTensor("observation", 8)
        SharedMemorySemaphore("sem_action", 0)
        mem.close()
        i += 1
elif mode == "import":
    from godot_aigym.engine import ensure_imported

    print("GO", flush=True)
    ensure_imported(sys.argv[2])
    sys.stdin.readline()  # imported before the kill: wait for it
else:
    raise SystemExit(f"unknown mode {mode!r}")
