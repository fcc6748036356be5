"""Independent PPO on a multi-agent scene through the batch API: one actor-critic per group
(its policy), trained on its own agents' experience, all groups stepped together. A small,
dependency-light check that a scene's groups can learn (the documented training is RLlib's,
``godot_aigym.rllib``); it needs torch.

    python -m godot_aigym.multiagent.ippo --scene res://envs/rendezvous/rendezvous.tscn \\
        --target scout=1.6,runner=1.6 [--export DIR]

Prints one line per iteration (steps, seconds, each group's mean return over its last 100
episodes) and exits 0 once every group reached its target (1 when --iterations ran out). With
--export, each group's actor is exported as ``<DIR>/<group>.jit`` (deterministic: argmax logits
or the Gaussian's mean), ready for ``--play --policy group=PATH``.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from .batch import GodotGroupEnv


class ActorCritic(nn.Module):
    """MLP actor (logits, or a Gaussian mean with a learned log-std) and critic for one group."""

    def __init__(self, obs_dim: int, space: spaces.Space, hidden: int = 64) -> None:
        super().__init__()
        self.discrete = isinstance(space, spaces.Discrete)
        if not self.discrete and not isinstance(space, spaces.Box):
            raise ValueError(f"ippo supports Discrete and Box action spaces, not {space}")
        n_out = int(space.n) if self.discrete else int(space.shape[0])
        self.actor = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                   nn.Linear(hidden, n_out))
        self.critic = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                    nn.Linear(hidden, 1))
        self.log_std = nn.Parameter(torch.full((n_out,), -0.5)) if not self.discrete else None

    def dist(self, obs: torch.Tensor):
        out = self.actor(obs)
        if self.discrete:
            return torch.distributions.Categorical(logits=out)
        return torch.distributions.Normal(out, self.log_std.exp())

    def log_prob(self, d, act: torch.Tensor) -> torch.Tensor:
        return d.log_prob(act) if self.discrete else d.log_prob(act).sum(-1)

    def entropy(self, d) -> torch.Tensor:
        return d.entropy() if self.discrete else d.entropy().sum(-1)


class GroupLearner:
    """PPO for one group: rollout buffers, GAE, clipped updates."""

    def __init__(self, name: str, obs_dim: int, space: spaces.Space, n: int, horizon: int, args) -> None:
        self.name, self.space, self.args = name, space, args
        self.net = ActorCritic(obs_dim, space)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=args.lr)
        act_shape = () if self.net.discrete else space.shape
        self.obs = torch.zeros(horizon, n, obs_dim)
        self.act = torch.zeros((horizon, n, *act_shape))
        self.logp = torch.zeros(horizon, n)
        self.val = torch.zeros(horizon, n)
        self.rew = torch.zeros(horizon, n)
        self.done = torch.zeros(horizon, n)
        self.next_val = torch.zeros(horizon, n)  # V(s') of the true next state (final obs when done)
        self.ep_return = np.zeros(n)
        self.returns: collections.deque = collections.deque(maxlen=100)

    @torch.no_grad()
    def act_on(self, t: int, obs: np.ndarray) -> np.ndarray:
        o = torch.from_numpy(obs)
        d = self.net.dist(o)
        a = d.sample()
        self.obs[t], self.act[t] = o, a
        self.logp[t], self.val[t] = self.net.log_prob(d, a), self.net.critic(o).squeeze(-1)
        if self.net.discrete:
            return a.numpy()
        return np.clip(a.numpy(), self.space.low, self.space.high)

    @torch.no_grad()
    def record(self, t: int, rew, term, trunc, next_obs, final_obs) -> None:
        done = term | trunc
        self.rew[t] = torch.from_numpy(rew.astype(np.float32))
        self.done[t] = torch.from_numpy(term.astype(np.float32))  # truncation bootstraps
        nxt = np.where(done[:, None], final_obs, next_obs)
        v = self.net.critic(torch.from_numpy(nxt)).squeeze(-1)
        self.next_val[t] = torch.where(torch.from_numpy(term), torch.zeros_like(v), v)
        self.ep_return += rew
        for i in np.flatnonzero(done):
            self.returns.append(self.ep_return[i])
            self.ep_return[i] = 0.0

    def update(self, ends: torch.Tensor) -> None:
        """PPO epochs over the horizon; `ends` [t, i] = 1 where agent i's episode ended at t."""
        a = self.args
        horizon = self.rew.shape[0]
        adv = torch.zeros_like(self.rew)
        last = torch.zeros(self.rew.shape[1])
        for t in reversed(range(horizon)):
            delta = self.rew[t] + a.gamma * self.next_val[t] - self.val[t]
            last = delta + a.gamma * a.lam * (1.0 - ends[t]) * last
            adv[t] = last
        ret = adv + self.val
        flat = lambda x: x.reshape(-1, *x.shape[2:])  # noqa: E731
        obs, act, logp, adv, ret = flat(self.obs), flat(self.act), flat(self.logp), flat(adv), flat(ret)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        ent_coef = a.ent if self.net.discrete else 0.0
        for _ in range(a.epochs):
            for idx in torch.randperm(obs.shape[0]).split(a.minibatch):
                d = self.net.dist(obs[idx])
                ratio = (self.net.log_prob(d, act[idx]) - logp[idx]).exp()
                pg = -torch.min(ratio * adv[idx], ratio.clamp(1 - a.clip, 1 + a.clip) * adv[idx]).mean()
                vf = (self.net.critic(obs[idx]).squeeze(-1) - ret[idx]).pow(2).mean()
                loss = pg + 0.5 * vf - ent_coef * self.net.entropy(d).mean()
                self.opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), 0.5)
                self.opt.step()

    def mean_return(self) -> float:
        return float(np.mean(self.returns)) if self.returns else float("nan")

    def export(self, path: Path) -> Path:
        from ..torch_export import export_policy
        return export_policy(self.net.actor, torch.zeros(1, self.obs.shape[-1]), path)


def train(args) -> int:
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # small networks: threads only add wake-ups (and fight the engine for CPUs)
    targets = dict(pair.split("=") for pair in args.target.split(",")) if args.target else {}
    env = GodotGroupEnv(project=args.project, scene=args.scene, n_copies=args.copies, seed=args.seed,
                        autoreset_mode="same_step")
    try:
        unknown = set(targets) - set(env.group_names)
        if unknown:
            raise SystemExit(f"--target names unknown groups {sorted(unknown)} (groups: {env.group_names})")
        learners = {g: GroupLearner(g, env.group_specs[g].obs_dim, env.action_spaces[g], env.n_group_agents[g],
                                    args.horizon, args) for g in env.group_names}
        obs = env.reset(seed=args.seed)
        t0, steps = time.monotonic(), 0
        for it in range(1, args.iterations + 1):
            ends = {g: torch.zeros(args.horizon, env.n_group_agents[g]) for g in learners}
            for t in range(args.horizon):
                acts = {g: ln.act_on(t, obs[g]) for g, ln in learners.items()}
                step = env.step(acts)
                for g, ln in learners.items():
                    ln.record(t, step.rewards[g], step.terminated[g], step.truncated[g], step.obs[g], step.final_obs[g])
                    ends[g][t] = torch.from_numpy((step.terminated[g] | step.truncated[g]).astype(np.float32))
                obs = step.obs
                steps += args.copies
            t_roll = time.monotonic()
            for g, ln in learners.items():
                ln.update(ends[g])
            t_update = time.monotonic() - t_roll
            means = {g: ln.mean_return() for g, ln in learners.items()}
            print(f"iteration {it} steps {steps} seconds {time.monotonic() - t0:.1f} (update {t_update:.1f}) "
                  + " ".join(f"{g} {m:.3f}" for g, m in means.items()), flush=True)
            if targets and all(means[g] >= float(v) for g, v in targets.items()):
                print(f"SOLVED after {it} iterations, {steps} steps, {time.monotonic() - t0:.0f} s", flush=True)
                if args.export:
                    for g, ln in learners.items():
                        print(f"exported {ln.export(Path(args.export) / f'{g}.jit')}")
                return 0
        return 1
    finally:
        env.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--project", default=None)
    p.add_argument("--scene", default="res://envs/rendezvous/rendezvous.tscn")
    p.add_argument("--target", default="scout=1.6,runner=1.6", help="group=mean return, ... ('' to train on)")
    p.add_argument("--copies", type=int, default=16)
    p.add_argument("--horizon", type=int, default=128)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--lam", type=float, default=0.95)
    p.add_argument("--clip", type=float, default=0.2)
    p.add_argument("--ent", type=float, default=0.01)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--minibatch", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--export", default=None, help="directory for <group>.jit once solved")
    return train(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
