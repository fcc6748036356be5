"""What an EnvRunner needs on its node is checked there, and a failure names the node."""

from __future__ import annotations

import socket

import pytest

import godot_aigym.rllib as godot_rllib  # godot_env_creator imports RLlib's registry on first use
from godot_aigym.rllib.node import GodotNodeError, prepare_node


def test_no_engine_on_the_node_names_the_host(tmp_path):
    with pytest.raises(GodotNodeError, match=rf"no usable Godot engine on host {socket.gethostname()}"):
        prepare_node(None, godot=str(tmp_path / "no-such-godot"))


def test_a_project_without_the_built_extension_names_the_node_and_what_to_run(tmp_path):
    (tmp_path / "project.godot").write_text("config_version=5\n")
    with pytest.raises(GodotNodeError, match=rf"extension is not built in {tmp_path} on host "
                                             rf"{socket.gethostname()}.*godot-aigym add"):
        godot_rllib.godot_env_creator("godot_aigym/Trivial-v0", {"num_envs": 2, "project": str(tmp_path)})


def test_a_folder_that_is_no_project_is_refused(tmp_path):
    with pytest.raises(GodotNodeError, match="is not a Godot project"):
        godot_rllib.godot_env_creator("godot_aigym/Trivial-v0", {"num_envs": 2, "project": str(tmp_path)})
