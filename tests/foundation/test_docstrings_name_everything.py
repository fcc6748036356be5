"""The lists in docstrings and comments that a user reads to find things name everything there is
(a docs review found options, ids, modules and a doc link left out)."""

from __future__ import annotations

import dataclasses
import pkgutil
import re
from pathlib import Path

import godot_aigym.demo
import godot_aigym.env
from godot_aigym.env import EnvOptions, GodotEnv
from godot_aigym.env.options import RENDER_MODES
from godot_aigym.env.registration import DEMO_ENVS, PIXEL_ENVS

REPO = Path(__file__).resolve().parents[2]


def unnamed(doc: str, names) -> list[str]:
    return [n for n in names if not re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", doc)]


def test_every_option_is_named_where_the_options_are_listed():
    fields = [f.name for f in dataclasses.fields(EnvOptions)]
    assert unnamed(EnvOptions.__doc__, fields) == []
    assert unnamed(GodotEnv.__doc__, fields) == []


def test_every_render_mode_is_named():
    assert unnamed(EnvOptions.__doc__, [f'"{mode}"' for mode in RENDER_MODES]) == []


def test_every_registered_id_is_named():
    assert unnamed(godot_aigym.env.__doc__, [*DEMO_ENVS, *PIXEL_ENVS]) == []


def test_every_demo_module_is_named():
    modules = [m.name for m in pkgutil.iter_modules(godot_aigym.demo.__path__) if m.name != "__main__"]
    assert unnamed(godot_aigym.demo.__doc__, [f"`{m}`" for m in modules]) == []


def test_pyproject_points_at_the_docs_that_describe_its_extensions():
    text = (REPO / "pyproject.toml").read_text()
    for doc in re.findall(r"docs/\S+?\.md", text):
        assert (REPO / doc).is_file(), doc
    slot_copy = re.search(r"slot copy \((docs/\S+?\.md)\)", text)
    assert slot_copy and "_slotcopy" in (REPO / slot_copy[1]).read_text()
