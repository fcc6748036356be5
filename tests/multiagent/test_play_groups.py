"""Play mode per group: each group of the rendezvous scene runs its own .jit in-engine through
cTorchModel (--policy group=PATH,...), and reaches exactly the returns Python measures with the
same policies on the same seed; a group without a policy, or with one that does not fit its
spaces, is refused with the group named."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
from ma_testutil import DEMO, RENDEZVOUS

torch = pytest.importorskip("torch")

from godot_aigym.engine import GodotProcess, LaunchOptions  # noqa: E402
from godot_aigym.env.link import project_physics_fps  # noqa: E402
from godot_aigym.multiagent import GodotGroupEnv  # noqa: E402
from godot_aigym.torch_export import export_policy  # noqa: E402

SEED, EPISODES = 31, 3


@pytest.fixture(scope="module")
def policies(tmp_path_factory, demo):
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("policies")
    paths = {}
    for group, (n_in, n_out) in {"scout": (4, 5), "runner": (6, 2)}.items():
        net = torch.nn.Sequential(torch.nn.Linear(n_in, 16), torch.nn.Tanh(), torch.nn.Linear(16, n_out))
        paths[group] = export_policy(net, torch.zeros(1, n_in), out / f"{group}.jit")
    return paths


def play(godot, policy_arg: str | None, episodes: int = 2 * EPISODES, copies: int = 1) -> tuple[int, str]:
    policy = ("--play", "--policy", policy_arg) if policy_arg is not None else ()  # else the scene's own
    options = LaunchOptions(project=DEMO, scene=RENDEZVOUS, seed=SEED, headless=True,
                            fixed_fps=project_physics_fps(DEMO),
                            user_args=(*policy, "--play-episodes", str(episodes), "--n-agents", str(copies)))
    with GodotProcess(options, godot=godot) as proc:
        code = proc.wait(timeout=120)
        return code, proc.log()


def line(log: str, tag: str) -> dict:
    for text in log.splitlines():
        if text.startswith(tag + " "):
            return json.loads(text[len(tag) + 1:])
    raise AssertionError(f"no {tag} line in the engine log:\n{log[-3000:]}")


def python_returns(policies) -> dict[str, list[float]]:
    """The same policies from Python, through GodotGroupEnv, on the same seed."""
    with warnings.catch_warnings():  # torch deprecates jit.load; the game runs these archives
        warnings.simplefilter("ignore", DeprecationWarning)
        nets = {g: torch.jit.load(str(p)) for g, p in policies.items()}
    returns = {"scout": [], "runner": []}
    with GodotGroupEnv(scene=RENDEZVOUS, seed=SEED, autoreset_mode="disabled") as env:
        for episode in range(EPISODES):
            obs = env.reset()
            total = {g: 0.0 for g in returns}
            while True:
                with torch.no_grad():
                    y = {g: nets[g](torch.from_numpy(obs[g])).numpy() for g in nets}
                acts = {"scout": y["scout"].argmax(axis=1), "runner": np.clip(y["runner"], -1, 1)}
                obs, rew, term, trunc = env.step(acts)
                for g in total:
                    total[g] += float(rew[g][0])
                if term["scout"][0] or trunc["scout"][0]:
                    assert term["runner"][0] or trunc["runner"][0]
                    break
            for g in total:
                returns[g].append(total[g])
    return returns


def test_each_group_plays_its_policy_as_python_does(godot, policies, no_leaks):
    code, log = play(godot, f"scout={policies['scout']},runner={policies['runner']}")
    assert code == 0, log[-3000:]
    groups, result = line(log, "AIGYM_PLAY_GROUPS"), line(log, "AIGYM_PLAY_RESULT")
    assert result["episodes"] == 2 * EPISODES and result["seed"] == SEED
    assert groups["policies"] == {g: str(p) for g, p in policies.items()}
    expected = python_returns(policies)
    assert set(groups["group_returns"]) == {"scout", "runner"}
    for g, returns in expected.items():
        assert groups["group_returns"][g] == pytest.approx(returns, rel=1e-12, abs=1e-12)
    assert groups["group_mean_return"]["runner"] == pytest.approx(np.mean(expected["runner"]), rel=1e-12)


@pytest.mark.parametrize("policy_arg, message", [
    ("scout={scout},runner={scout}", "agent group 'runner': the policy .*scout.jit takes 4 values per observation; "
                                     "the group observes 6"),
    ("scout={runner},runner={runner}", "agent group 'scout': the policy .*runner.jit takes 6 values"),
    ("chaser={scout}", "--policy names the group 'chaser', which this scene does not have \\(groups: scout, runner\\)"),
    ("{scout}", "--policy must map groups to policies"),
    ("scout={scout},runner={runner},scout={runner}", "--policy names the group 'scout' twice"),  # the last won
])
def test_play_refuses_groups_without_a_fitting_policy(godot, policies, policy_arg, message, no_leaks):
    code, log = play(godot, policy_arg.format(**policies))
    assert code == 1, log[-2000:]
    assert re.search("GymEnv: " + message, log), log[-2000:]


def test_a_group_without_a_policy_is_refused(godot, test_project, no_leaks):
    options = LaunchOptions(project=test_project, scene="res://multiagent/agent_nodes.tscn", headless=True,
                            user_args=("--play",))
    with GodotProcess(options, godot=godot) as proc:
        code = proc.wait(timeout=120)
        log = proc.log()
    assert code == 1 and "GymEnv: agent group 'left' has no policy: set its policy_path or pass --policy left=PATH" in log


def test_policy_overrides_one_group_and_the_other_keeps_its_own(godot, policies, no_leaks):
    code, log = play(godot, f"scout={policies['scout']}")
    assert code == 0, log[-2000:]
    assert line(log, "AIGYM_PLAY_GROUPS")["policies"] == {"scout": str(policies["scout"]),
                                                         "runner": "res://envs/rendezvous/runner.jit"}


def test_the_scenes_own_policies_solve_rendezvous_in_engine(godot, no_leaks):
    """The demo's committed scout.jit and runner.jit (trained to the threshold, docs/MULTI_AGENT.md)
    play from the scene's policy_path, 100 episodes per group over 10 copies."""
    code, log = play(godot, None, episodes=200, copies=10)
    assert code == 0, log[-3000:]
    groups = line(log, "AIGYM_PLAY_GROUPS")
    assert groups["policies"] == {"scout": "res://envs/rendezvous/scout.jit", "runner": "res://envs/rendezvous/runner.jit"}
    counts = {g: len(r) for g, r in groups["group_returns"].items()}
    assert sum(counts.values()) == 200 and min(counts.values()) >= 99  # the quota may end between a pair
    assert groups["group_mean_return"]["scout"] >= 1.6 and groups["group_mean_return"]["runner"] >= 1.6


def test_random_mode_acts_in_every_groups_space(godot, no_leaks):
    """--random (watching a scene without policies): each group gets random actions of its own
    space, episodes restart, no error is logged (a bad action would fail the scene's clamps or
    index its move table out of range)."""
    options = LaunchOptions(project=DEMO, scene=RENDEZVOUS, seed=SEED, headless=True, quit_after=300,
                            fixed_fps=project_physics_fps(DEMO), user_args=("--random", "--n-agents", "3"))
    with GodotProcess(options, godot=godot) as proc:
        code = proc.wait(timeout=120)
        log = proc.log()
    assert code == 0 and "ERROR" not in log and "AIGYM_PLAY" not in log, log[-2000:]
