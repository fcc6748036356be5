"""PPO on a Godot environment with RLlib, on one machine or a Ray cluster.

    python -m godot_aigym.rllib.train                       # a local Ray instance
    python -m godot_aigym.rllib.train --address auto        # the cluster this node joined
    python -m godot_aigym.rllib.train --env godot_aigym/Rendezvous-v0   # a multi-agent scene (train_multi)

Trains until the greedy policy's mean return over ``--episodes`` fresh episodes (evaluated after
every iteration on one engine kept open) reaches ``--threshold`` (the cart-pole's solved
threshold, 475), or ``--max-iterations``.
The PPO settings follow the demo's (docs/DEMO.md, rl-zoo's CartPole) where RLlib has
the same knob: a 64x64 tanh policy network and a value network of its own (SB3's MlpPolicy; RLlib's
default shares the layers), 16 steps per sub-environment and runner per batch (512 with 2 runners x 16 agents),
minibatches of 256, 20 epochs, gamma 0.98, lambda 0.8, no entropy bonus, learning rate 1e-3
decaying linearly (to 0 at 300k steps); no KL penalty and no value clipping (SB3 has neither).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from typing import Any, Callable, Iterator, Sequence

import numpy as np

DEFAULT_ENV = "godot_aigym/CartPole-v0"
THRESHOLD = 475.0
MAX_RETURN = 500.0  # the cart-pole's largest episode return (500 steps of reward 1): evaluations stop once hopeless


def build_config(env: str = DEFAULT_ENV, *, env_runners: int = 2, agents: int = 16, engines: int = 1,
                 seed: int | None = 0, env_config: dict | None = None, runner_resources: dict | None = None,
                 cpus_per_runner: float = 1, fragment: int = 16, minibatch: int = 256, epochs: int = 20,
                 lr: float | list = (1e-3, 300_000), restart_failed_env_runners: bool = True):
    """A PPOConfig whose EnvRunners each drive ``agents`` x ``engines`` sub-environments."""
    from .env_runner import GodotEnvRunner

    per_runner = agents * engines
    batch = max(env_runners, 1) * per_runner * fragment
    return (ppo_config(env, GodotEnvRunner, env_runners=env_runners, per_runner=per_runner, engines=engines,
                       fragment=fragment, seed=seed, env_config=env_config, runner_resources=runner_resources,
                       cpus_per_runner=cpus_per_runner, restart_failed_env_runners=restart_failed_env_runners,
                       separate_value_network=True)
            .training(train_batch_size_per_learner=batch, minibatch_size=min(batch, minibatch), num_epochs=epochs,
                      lr=lr if isinstance(lr, float) else [[0, lr[0]], [lr[1], 0.0]], gamma=0.98, lambda_=0.8, entropy_coeff=0.0,
                      clip_param=0.2, kl_coeff=0.0,
                      vf_clip_param=1e4, vf_loss_coeff=0.5))


def ppo_config(env: str, runner_cls: type, *, env_runners: int, per_runner: int, engines: int, fragment: int,
               seed: int | None, env_config: dict | None, runner_resources: dict | None, cpus_per_runner: float,
               restart_failed_env_runners: bool = True, separate_value_network: bool = False):
    """What the single- and multi-agent PPOConfigs share: ``env_runners`` runners of class
    ``runner_cls`` with ``per_runner`` sub-environments over ``engines`` engines each, a 64x64 tanh
    MLP (with ``separate_value_network`` the value function gets one of its own, else it shares
    the policy's layers, RLlib's default), failed runners restarted at once (training goes on with
    the others meanwhile). The caller adds ``.training(...)``."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    return (PPOConfig()
            .environment(env, env_config={"n_engines": engines, **(env_config or {})})
            .env_runners(env_runner_cls=runner_cls, num_env_runners=env_runners,
                         num_envs_per_env_runner=per_runner, rollout_fragment_length=fragment,
                         num_cpus_per_env_runner=cpus_per_runner,
                         custom_resources_per_env_runner=runner_resources or {})
            .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=[64, 64], fcnet_activation="tanh",
                                                       vf_share_layers=not separate_value_network))
            .fault_tolerance(restart_failed_env_runners=restart_failed_env_runners,
                             delay_between_env_runner_restarts_s=0.0)
            .debugging(seed=seed))


@contextlib.contextmanager
def built_algo(config: Any) -> Iterator[Any]:
    """``config``'s algorithm, stopped at the end of the block. The learner runs in this process
    with one torch thread: a minibatch update of the small MLP took 70 ms with torch's default
    threads on a busy 2-core machine, 10 ms with one. While the block runs, the heap built so far
    (torch, Ray, RLlib, the algorithm) is frozen out of Python's garbage collector: the episodes
    this process unpickles from the runners (hundreds per sample) otherwise trigger full
    collections that traverse it, 300-600 ms each here, every few samples."""
    import gc

    import torch

    torch.set_num_threads(1)
    algo = config.build_algo()
    gc.freeze()
    try:
        yield algo
    finally:
        gc.unfreeze()
        algo.stop()


def greedy_act(module: Any) -> Callable[[np.ndarray, Any], np.ndarray]:
    """The argmax action of ``module`` (an RLlib RLModule) for a batch of observations."""
    import torch

    actor = _plain_actor(module)
    if actor is not None:  # the same logits without RLlib's per-call dict and encoder layers (~4x less)
        def act(obs: np.ndarray, _vec: Any) -> np.ndarray:
            with torch.inference_mode():
                return actor(torch.as_tensor(obs)).argmax(-1).numpy()

        return act

    def act(obs: np.ndarray, _vec: Any) -> np.ndarray:
        with torch.no_grad():
            out = module.forward_inference({"obs": torch.as_tensor(obs)})
        return out["action_dist_inputs"].argmax(-1).numpy()

    return act


def _plain_actor(module: Any) -> Any:
    """RLlib's default PPO module's observation -> logits path as one torch Sequential sharing its
    parameters (MLP encoder, shared with the value function or not, then the policy head), or None
    for any other module."""
    import torch

    encoder = getattr(module, "encoder", None)
    actor = getattr(encoder, "actor_encoder", getattr(encoder, "encoder", None))
    try:
        layers = [actor.net.mlp, module.pi.net.mlp]
    except AttributeError:
        return None
    if not all(isinstance(layer, torch.nn.Sequential) for layer in layers):
        return None
    return torch.nn.Sequential(*layers)


def greedy_returns(module: Any, env: str = DEFAULT_ENV, *, episodes: int = 20, seed: int = 2024,
                   env_config: dict | None = None) -> list[float]:
    """``episodes`` agents of one fresh engine play one episode each with the argmax action of
    ``module`` (an RLlib RLModule); returns their returns."""
    return episode_returns(greedy_act(module), env, episodes=episodes, seed=seed, env_config=env_config)


def random_returns(env: str = DEFAULT_ENV, *, episodes: int = 20, seed: int = 2024,
                   env_config: dict | None = None) -> list[float]:
    """The same episodes as `greedy_returns`, played with uniformly random actions (the baseline
    a trained policy must beat)."""
    def act(_obs: np.ndarray, vec: Any) -> np.ndarray:
        return vec.action_space.sample()

    return episode_returns(act, env, episodes=episodes, seed=seed, env_config=env_config)


def episode_returns(act: Callable[[np.ndarray, Any], np.ndarray], env: str = DEFAULT_ENV, *, episodes: int = 20,
                    seed: int = 2024, env_config: dict | None = None) -> list[float]:
    """One episode per agent of one fresh engine, actions from ``act(obs, vector_env)``."""
    with EpisodePlayer(env, episodes=episodes, seed=seed, env_config=env_config) as player:
        return player.play(act)


class EpisodePlayer:
    """One engine of ``episodes`` agents kept open for many evaluations (a training's): each
    `play` resets it with the same ``seed``, so every call plays the same fresh episodes a new
    engine would (an engine's start costs more than most evaluations)."""

    def __init__(self, env: str = DEFAULT_ENV, *, episodes: int = 20, seed: int = 2024, env_config: dict | None = None):
        from .registration import godot_env_creator

        config = {k: v for k, v in (env_config or {}).items() if k != "n_engines"}
        self.seed = seed
        self.vec = godot_env_creator(env, {**config, "num_envs": episodes})

    def play(self, act: Callable[[np.ndarray, Any], np.ndarray], *, unless_below: float | None = None,
             max_return: float | None = None, max_steps: int = 100_000) -> list[float] | None:
        """One episode per agent, actions from ``act(obs, vector_env)``; returns their returns.
        With ``unless_below`` and ``max_return`` (the largest return an episode can have), stops
        and returns None as soon as the finished episodes leave the mean no way to reach
        ``unless_below``: a policy that is not there yet costs a few dozen steps, not 500.
        ``max_steps``: a scene without a step limit whose policy never ends an episode raises
        RuntimeError naming the cap instead of playing forever."""
        vec = self.vec
        vec.action_space.seed(self.seed)
        obs, _ = vec.reset(seed=self.seed)
        returns = np.zeros(vec.num_envs)
        done = np.zeros(vec.num_envs, bool)
        # the return the finished episodes may fall short of the largest by, in sum, for the mean to reach unless_below
        slack = None if unless_below is None or max_return is None else (max_return - unless_below) * vec.num_envs
        for _ in range(max_steps):
            if done.all():  # an agent whose episode ended is autoreset and ignored from then on
                break
            obs, reward, term, trunc, _ = vec.step(act(obs, vec))
            returns += np.where(done, 0.0, reward)
            ended = term | trunc
            if slack is not None and ended.any() and (max_return - returns[done | ended]).sum() > slack:
                return None
            done |= ended
        if not done.all():
            raise RuntimeError(f"evaluation: {int((~done).sum())} of {vec.num_envs} episodes still running after "
                               f"max_steps={max_steps} steps (a scene without max_episode_steps?); pass a larger "
                               "max_steps or give the scene a step limit")
        return returns.tolist()

    def close(self) -> None:
        self.vec.close()

    def __enter__(self) -> "EpisodePlayer":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


def train(config: Any, *, threshold: float = THRESHOLD, max_iterations: int = 600, episodes: int = 20,
          max_return: float | None = None, on_iteration: Callable[[int, dict, Any], None] | None = None,
          until: Callable[[Any], bool] | None = None) -> dict:
    """Build the algorithm (`built_algo`), train until solved; returns a summary (and stops the
    algorithm).

    Solved: the greedy policy's mean return over ``episodes`` fresh seeded episodes (one
    `EpisodePlayer` engine kept open beside the training) reaches ``threshold``. It is evaluated
    after every iteration: the greedy policy often solves long before the sampling (stochastic)
    policy's returns say so, and with ``max_return`` (the largest return an episode can have) an
    evaluation that cannot reach the threshold stops after a few dozen steps. Without
    ``max_return`` it is evaluated only once the sampling policy's mean return reaches 0.9 x
    ``threshold``. ``until(algo)``: a
    further condition to go on training for once solved (e.g. a test's "the replaced runner
    sampled again"); ``max_iterations`` caps both."""
    with built_algo(config) as algo, EpisodePlayer(config.env, episodes=episodes, env_config=config.env_config) as player:
        t0 = time.perf_counter()
        summary: dict[str, Any] = {"solved": False, "iterations": 0, "history": []}
        for it in range(1, max_iterations + 1):
            result = algo.train()
            runners = result.get("env_runners", {})
            ret = runners.get("episode_return_mean", float("nan"))
            steps = int(runners.get("num_env_steps_sampled_lifetime", 0))
            row = {"iteration": it, "steps": steps, "return_mean": ret,
                   "healthy_runners": algo.env_runner_group.num_healthy_remote_workers()}
            if on_iteration is not None:
                on_iteration(it, result, algo)
            # without max_return a hopeless evaluation cannot stop early: only once the sampling
            # policy is near the threshold (it may also be a scene whose episodes run long)
            if not summary["solved"] and (max_return is not None or (ret == ret and ret >= 0.9 * threshold)):
                evals = player.play(greedy_act(algo.get_module()), unless_below=threshold, max_return=max_return)
                if evals is not None:
                    row["greedy_mean"] = float(np.mean(evals))
                if row.get("greedy_mean", -np.inf) >= threshold:
                    summary.update(solved=True, greedy_mean=row["greedy_mean"], solved_at=it, solved_steps=steps,
                                   solved_seconds=time.perf_counter() - t0)
            row["seconds"] = round(time.perf_counter() - t0, 2)
            summary["history"].append(row)
            summary.update(iterations=it, steps=steps, seconds=row["seconds"])
            if summary["solved"] and (until is None or until(algo)):
                break
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m godot_aigym.rllib.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--address", default=None, help="Ray cluster address ('auto': the one this node joined); "
                                                   "default: start a local Ray instance")
    p.add_argument("--env", default=DEFAULT_ENV)
    p.add_argument("--env-runners", type=int, default=2)
    p.add_argument("--agents", type=int, default=16, help="agents per engine")
    p.add_argument("--engines", type=int, default=1, help="engines per EnvRunner")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threshold", type=float, default=None,
                   help=f"solved threshold (default {THRESHOLD}; multi-agent scenes: each policy's, 1.6)")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--max-return", type=float, default=None,
                   help=f"the largest return an episode can have, to cut hopeless evaluations short "
                        f"(default {MAX_RETURN} for {DEFAULT_ENV}, else none)")
    p.add_argument("--max-iterations", type=int, default=600)
    p.add_argument("--export", default="rllib_policies",
                   help="multi-agent scenes: folder for each group's <group>.jit, then played in the engine")
    args = p.parse_args(argv)

    import ray

    from .local_ray import init_local, private_session

    with contextlib.ExitStack() as stack:
        if args.address is None:  # a local instance whose session files go when it does
            init_local(stack.enter_context(private_session()), log_to_driver=False)
        else:
            ray.init(address=args.address, log_to_driver=False)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    import ray

    try:
        from .registration import RLLIB_GROUP_ENVS

        if args.env in RLLIB_GROUP_ENVS:
            return _main_multi(args)
        config = build_config(args.env, env_runners=args.env_runners, agents=args.agents, engines=args.engines,
                              seed=args.seed)

        def report(it: int, result: dict, _algo: Any) -> None:
            r = result.get("env_runners", {})
            print(f"iteration {it}: {int(r.get('num_env_steps_sampled_lifetime', 0))} steps, "
                  f"return {r.get('episode_return_mean', float('nan')):.1f}, "
                  f"{time.perf_counter() - start:.0f} s", flush=True)

        start = time.perf_counter()

        threshold = THRESHOLD if args.threshold is None else args.threshold
        max_return = args.max_return if args.max_return is not None or args.env != DEFAULT_ENV else MAX_RETURN
        summary = train(config, threshold=threshold, max_iterations=args.max_iterations, episodes=args.episodes,
                        max_return=max_return, on_iteration=report)
    finally:
        ray.shutdown()
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}))
    verdict = "solved" if summary["solved"] else "NOT solved"
    print(f"{verdict}: {summary['iterations']} iterations, {summary.get('steps', 0)} environment steps, "
          f"{summary.get('seconds', 0.0):.0f} s of training", flush=True)
    return 0 if summary["solved"] else 1


def _main_multi(args: argparse.Namespace) -> int:
    """Train a group scene's policies, export them, play them in the engine (Ray already up)."""
    from .registration import RLLIB_GROUP_ENVS
    from .train_multi import MULTI_THRESHOLD, build_multi_config, play_groups, train_multi

    threshold = MULTI_THRESHOLD if args.threshold is None else args.threshold
    config = build_multi_config(args.env, env_runners=args.env_runners, copies=args.agents, engines=args.engines,
                                seed=args.seed)
    start = time.perf_counter()

    def report(it: int, result: dict, _algo: Any) -> None:
        from .train_multi import policy_returns

        r = result.get("env_runners", {})
        returns = " ".join(f"{k} {v:.2f}" for k, v in sorted(policy_returns(result).items()))
        print(f"iteration {it}: {int(r.get('num_env_steps_sampled_lifetime', 0))} steps, {returns}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)

    summary = train_multi(config, threshold=threshold, max_iterations=args.max_iterations, on_iteration=report,
                          export_dir=args.export)
    verdict = "solved" if summary["solved"] else "NOT solved"
    print(f"{verdict}: {summary['iterations']} iterations, {summary.get('steps', 0)} environment steps, "
          f"{summary.get('seconds', 0.0):.0f} s of training; policies {summary.get('exported')}", flush=True)
    scene, project = RLLIB_GROUP_ENVS[args.env]
    played = play_groups(scene, summary["exported"], project=project)
    print(f"played in the engine: {json.dumps(played.get('group_mean_return'))}", flush=True)
    return 0 if summary["solved"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
