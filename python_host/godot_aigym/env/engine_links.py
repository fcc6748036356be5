"""The engines of a batched environment (`GodotVectorEnv`, `GodotGroupEnv`): M `EngineLink`s
started together and stopped together, and the arguments both classes check the same way."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode

from . import protocol as P
from .link import EngineLink
from .options import EnvOptions, prepare_log_dir
from .placement import engine_cpus

# gymnasium's autoreset mode -> the engine's (decided in the engine, docs/STEP_PROTOCOL.md)
ENGINE_AUTORESET = {AutoresetMode.NEXT_STEP: P.AUTORESET_NEXT_STEP, AutoresetMode.SAME_STEP: P.AUTORESET_SAME_STEP,
                    AutoresetMode.DISABLED: P.AUTORESET_NONE}


def positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def agents_per_engine(num_envs: Any, n_agents: Any, n_engines: int) -> int:
    """``n_agents`` from either it or ``num_envs`` (= n_agents x n_engines); ValueError naming both."""
    if n_agents is None:
        if num_envs is None:
            return 1
        if positive_int("num_envs", num_envs) % n_engines:
            raise ValueError(f"num_envs={num_envs} is not a multiple of n_engines={n_engines}")
        return num_envs // n_engines
    if num_envs is not None and num_envs != n_agents * n_engines:
        raise ValueError(f"num_envs={num_envs} != n_agents={n_agents} x n_engines={n_engines}")
    return positive_int("n_agents", n_agents)


def render_frames(links: list[EngineLink], n_agents: int, render_mode: str | None, who: str) -> tuple | None:
    """A vector env's render(): None unless render_mode is "rgb_array"; else gymnasium's tuple of
    num_envs frames, (H, W, 3) uint8. An engine's agents share its window, so sub-environments
    k * n_agents .. + n_agents - 1 share engine k's frame (one array). Engines that do not render
    are refused: a vector env never relaunches its engines (GodotEnv does, right after reset)."""
    if render_mode != "rgb_array":
        return None
    if not all(link.renders for link in links):
        raise P.GodotEnvError(f"{who}.render() needs engines that render: create it with rendering=True "
                              "(render_mode='rgb_array' alone starts its engines headless)")
    frames: list[np.ndarray] = []
    for link in links:
        frames += [link.render()] * n_agents
    return tuple(frames)


def engine_seeds(seed: Any, n_agents: int, n_engines: int) -> list[int | None]:
    """One seed per engine from a vector env's ``seed``: None, an int (engine k gets seed + k) or
    one per sub-environment (engine k takes its first agent's); ValueError otherwise."""
    if seed is None:
        return [None] * n_engines
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return [int(seed) + k for k in range(n_engines)]
    try:
        seeds = list(seed)
    except TypeError:
        seeds = None
    if seeds is None or len(seeds) != n_agents * n_engines or \
            not all(s is None or (isinstance(s, (int, np.integer)) and not isinstance(s, bool)) for s in seeds):
        raise ValueError(f"seed must be None, an int or a list of {n_agents * n_engines} ints (one per "
                         f"sub-environment), got {seed!r}")
    return [None if s is None else int(s) for s in seeds[::n_agents]]


def engine_share(cpus: Any, k: int) -> Any:
    """Engine k's share of ``cpus``: a list of per-engine lists is indexed, anything else shared."""
    if isinstance(cpus, (list, tuple)) and cpus and isinstance(cpus[0], (list, tuple, set)):
        return cpus[k % len(cpus)]
    return cpus


def open_links(opts: EnvOptions, n_agents: int, n_engines: int, log_dir: str | os.PathLike | None, *,
               accept_groups: bool = False) -> list[EngineLink]:
    """``n_engines`` connected EngineLinks of ``n_agents`` agents each: engine k seeded with
    ``seed + k``, on its share of ``opts.cpus``, logging to ``<log_dir>/engine<k>.log`` if given.
    Every engine's CPUs are checked before any engine starts; the engines start in parallel;
    if any fails, those started are closed before the error propagates."""
    log_dir = prepare_log_dir(log_dir)  # created if missing, for every vector env class alike
    cpus = [engine_share(opts.cpus, k) for k in range(n_engines)]
    for k in range(n_engines):
        engine_cpus(cpus[k], k, foreign=[])  # only validated here: each EngineLink places its engine
    links: list[EngineLink] = []
    try:
        for k in range(n_engines):
            link = EngineLink(opts.replace(
                seed=None if opts.seed is None else opts.seed + k, cpus=cpus[k],
                log_path=None if log_dir is None else os.path.join(log_dir, f"engine{k}.log")),
                n_agents=n_agents, index=k, n_engines=n_engines)  # n_engines: the spin policy
            link.accept_groups = accept_groups
            links.append(link)
        for link in links:  # engines start in parallel; now collect their specs
            link.connect()
    except BaseException:
        close_links(links)
        raise
    return links


def close_links(links: list[EngineLink]) -> None:
    """Ask every engine to quit first, then reap them: they quit in parallel."""
    for link in links:
        link.request_close()
    for link in links:
        link.close()
