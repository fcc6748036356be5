"""`godot-aigym new-env PROJECT_DIR NAME`: an environment scene and an agent script from a template.

Writes `envs/NAME/NAME.tscn` (a GymEnv node that instances one agent scene per agent),
`envs/NAME/NAME_agent.tscn` and `envs/NAME/NAME_agent.gd`. The agent script is a small working
example (move a point to a target on a line) with every callback explained, so the scene steps
from Python at once and is then rewritten into the user's own task.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .add import ADDON_REL
from .errors import ProjectError
from .godot_project import open_project

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")

SCENE = """[gd_scene load_steps=3 format=3]

[ext_resource type="Script" path="{gym_env}" id="1_env"]
[ext_resource type="PackedScene" path="res://envs/{name}/{name}_agent.tscn" id="2_agent"]

[node name="{title}" type="Node2D"]

[node name="Env" type="Node" parent="."]
script = ExtResource("1_env")
env_name = "{title}"
observation_size = 2
observation_low = PackedFloat32Array(-1, -1)
observation_high = PackedFloat32Array(1, 1)
action_type = 1
action_size = 3
max_episode_steps = 50
agent_scene = ExtResource("2_agent")
agent_spacing = Vector2(0, 40)
"""

AGENT_SCENE = """[gd_scene load_steps=2 format=3]

[ext_resource type="Script" path="res://envs/{name}/{name}_agent.gd" id="1_agent"]

[node name="{title}Agent" type="Node2D"]
script = ExtResource("1_agent")

[node name="Body" type="Polygon2D" parent="."]
color = Color(0.2, 0.45, 0.8, 1)
polygon = PackedVector2Array(-8, -8, 8, -8, 8, 8, -8, 8)
"""

AGENT_SCRIPT = """## One agent of the {title} environment. GymEnv (the Env node of {name}.tscn) instances this
## scene once per agent and calls the callbacks below; Python sees the spaces declared on that
## node (observation_size, action_type, action_size, ...), so nothing is declared twice.
##
## The example task: move a point along a line to a target. Replace it with your game's logic.
##   observation: [position, target], both in [-1, 1]      (Env: observation_size = 2)
##   action:      0 = left, 1 = stay, 2 = right            (Env: action_type = DISCRETE, action_size = 3)
##   reward:      minus the distance to the target, each step
##   terminated:  within 0.05 of the target; truncated after max_episode_steps (set on Env)
extends Node2D

const SPEED := 0.1
const PIXELS := 200.0

var position_1d := 0.0
var target := 0.0


## A new episode: put the agent in a start state. Use `rng` (seeded from Python's reset(seed=...))
## for every random choice, so episodes are reproducible.
func reset_agent(rng: RandomNumberGenerator) -> void:
	position_1d = rng.randf_range(-1.0, 1.0)
	target = rng.randf_range(-1.0, 1.0)
	position.x = position_1d * PIXELS


## Apply the action chosen by Python (or by the policy in play mode): an int for DISCRETE,
## a PackedFloat32Array for BOX, a PackedInt32Array for MULTI_DISCRETE. Physics runs after it.
func apply_action(action) -> void:
	position_1d = clampf(position_1d + (int(action) - 1) * SPEED, -1.0, 1.0)
	position.x = position_1d * PIXELS


## What the agent observes after the step: `observation_size` numbers.
func get_observation() -> PackedFloat32Array:
	return PackedFloat32Array([position_1d, target])


## The reward of the step that just ran.
func get_reward() -> float:
	return -absf(position_1d - target)


## True when the episode ended by itself (goal reached, agent fell, ...).
func is_terminated() -> bool:
	return absf(position_1d - target) < 0.05


## Optional: True to cut the episode short for a reason of your own (the step limit is handled by Env).
func is_truncated() -> bool:
	return false
"""


@dataclass
class NewEnvResult:
    scene: str  # res:// path of the environment scene
    files: list[Path]


def gym_env_script(project: Path) -> str:
    """res:// path of the addon's script that declares `class_name GymEnv`."""
    addon = project / ADDON_REL
    for path in sorted(addon.rglob("*.gd")):
        if re.search(r"^class_name\s+GymEnv\b", path.read_text(errors="replace"), re.M):
            return "res://" + path.relative_to(project).as_posix()
    raise ProjectError(f"{project} has no godot-aigym addon (no GymEnv script in {addon}): "
                       f"run `godot-aigym add {project}` first")


def new_env(project_dir: str | os.PathLike, name: str, *, force: bool = False) -> NewEnvResult:
    """Write the template environment NAME into the project; refuses to overwrite without `force`."""
    project = open_project(project_dir)
    if not NAME_RE.fullmatch(name):
        raise ProjectError(f"{name!r} is not a usable environment name: use lower-case letters, digits and _, "
                           "starting with a letter (it names the folder, the scenes and the script)")
    gym_env = gym_env_script(project.path)
    title = "".join(part.capitalize() for part in name.split("_"))
    folder = project.path / "envs" / name
    contents = {
        folder / f"{name}.tscn": SCENE.format(gym_env=gym_env, name=name, title=title),
        folder / f"{name}_agent.tscn": AGENT_SCENE.format(name=name, title=title),
        folder / f"{name}_agent.gd": AGENT_SCRIPT.format(name=name, title=title),
    }
    existing = [p for p in contents if p.exists()]
    if existing and not force:
        raise ProjectError("these files exist already and were left alone:\n  "
                           + "\n  ".join(str(p) for p in existing) + "\nchoose another name, or replace them with --force")
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in contents.items():  # each file complete or not at all
        with tempfile.NamedTemporaryFile("w", dir=folder, prefix=f".{path.name}.", delete=False) as tmp:
            tmp.write(text)
        os.replace(tmp.name, path)
    return NewEnvResult(f"res://envs/{name}/{name}.tscn", list(contents))
