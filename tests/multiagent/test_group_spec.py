"""The host's checks of the spec's agent groups (env/groups.py via EnvSpec.from_message), without
an engine: what a well-formed GymGroupEnv declares, and every way a description can be wrong."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from gymnasium import spaces

from godot_aigym.env import protocol as P


def box(n, low=None, high=None):
    return {"type": "box", "shape": [n], "low": [low] * n, "high": [high] * n, "dtype": "float32"}


def message(copies=2):
    n = 3 * copies  # scout: 1 per copy, runner: 2 per copy
    d, w = 6, 2
    return {
        "protocol": P.PROTOCOL, "version": P.PROTOCOL_VERSION, "name": "T", "n_agents": n, "copies": copies,
        "observation": {**box(d), "type": P.GROUPS_TYPE},
        "action": {"type": P.GROUPS_TYPE, "shape": [w], "low": [-1.0] * w, "high": [1.0] * w},
        "action_width": w, "in_size": P.in_size(n, w), "out_size": P.out_size(n, d),
        "groups": [
            {"name": "scout", "policy": "scout", "offset": 0, "n_agents": copies, "agents_per_copy": 1,
             "observation": box(4, -1.0, 1.0), "action": {"type": "discrete", "n": 5}, "action_width": 1},
            {"name": "runner", "policy": "team", "offset": copies, "n_agents": 2 * copies, "agents_per_copy": 2,
             "observation": box(6), "action": {"type": "box", "shape": [2], "low": [-1.0, -1.0], "high": [1.0, 1.0]},
             "action_width": 2},
        ],
    }


def test_groups_are_parsed_with_their_own_spaces_and_rows():
    spec = P.EnvSpec.from_message(message())
    scout, runner = spec.groups
    assert spec.copies == 2 and spec.n_agents == 6 and spec.obs_dim == 6 and spec.action_width == 2
    assert (scout.name, scout.policy, scout.rows, scout.action_space) == ("scout", "scout", slice(0, 2), spaces.Discrete(5))
    assert (runner.policy, runner.rows, runner.agents_per_copy) == ("team", slice(2, 6), 2)
    assert scout.observation_space == spaces.Box(-1, 1, (4,), np.float32) and runner.obs_dim == 6


def test_a_spec_without_groups_is_the_flat_protocol():
    raw = message()
    del raw["groups"], raw["copies"]
    raw["observation"]["type"] = raw["action"]["type"] = "box"
    spec = P.EnvSpec.from_message(raw)
    assert spec.groups == () and spec.copies == spec.n_agents


def broken(change):
    raw = copy.deepcopy(message())
    change(raw)
    return raw


@pytest.mark.parametrize("change, match", [
    (lambda r: r["groups"][1].update(name="scout"), r"duplicate group names \['scout', 'scout'\]"),
    (lambda r: r["groups"][1].update(name="2teams"), "group name '2teams' is not an identifier"),
    (lambda r: r["groups"][0].update(n_agents=0, offset=0) or r["groups"][1].update(offset=0),
     "group 'scout' is empty"),
    (lambda r: r["groups"][1].update(offset=3), r"group 'runner' does not fit the rows \(offset 3, expected 2"),
    (lambda r: r["groups"][1].update(observation=box(7)), "does not fit the rows"),
    (lambda r: r["groups"].pop(), "the groups hold 2 agents, the environment 6"),
    (lambda r: r.update(groups=[]), "no groups"),
    (lambda r: r["groups"][0].pop("offset"), r"malformed agent groups .*KeyError: 'offset'"),
    (lambda r: r["groups"][0].update(action={"type": "groups", "shape": [1], "low": [0], "high": [1]}),
     "a group observes a flat box and acts in a box, discrete or multi_discrete space"),
])
def test_malformed_groups_are_refused_naming_the_problem(change, match):
    with pytest.raises(P.GodotEnvError, match=match):
        P.EnvSpec.from_message(broken(change))
