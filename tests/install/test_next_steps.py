"""`godot-aigym add`'s next steps: a GodotAIGym project is pointed at the port, a new one at GymEnv."""

import re
from pathlib import Path

from godot_aigym.project_tools.add import AddResult, next_steps, uses_seed_api
from godot_aigym.project_tools.godot_project import GodotProject


def _project(tmp_path: Path, files: dict[str, str]) -> AddResult:
    (tmp_path / "project.godot").write_text("config_version=5\n")
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return AddResult(GodotProject(tmp_path, 5, ("4.3",), None, "p"), tmp_path / "addons" / "godot_aigym")


def test_a_godotaigym_project_gets_the_porting_steps(tmp_path):
    result = _project(tmp_path, {"Environment.gd": "var mem = cSharedMemory.new()\n"})
    text = next_steps(result)
    assert "PORTING.md" in text and "godot_aigym.compat" in text and "new-env" not in text


def test_a_new_project_gets_the_gymenv_steps(tmp_path):
    # the addon itself names the seed API: it must not make every project look like a port
    result = _project(tmp_path, {"main.gd": "extends Node\n",
                                 "addons/godot_aigym/compat.gd": "cSharedMemory\n",
                                 ".godot/cache.gd": "cSharedMemory\n"})
    assert not uses_seed_api(tmp_path)
    text = next_steps(result)
    assert "new-env" in text and "YOUR_GAME.md" in text and "PORTING.md" not in text


def test_the_documents_named_are_files(tmp_path):
    # by full path: an installed package has no docs/ beside the user's project (the wheel ships them)
    for files in ({"Environment.gd": "var mem = cSharedMemory.new()\n"}, {"main.gd": "extends Node\n"}):
        folder = tmp_path / next(iter(files))
        folder.mkdir()
        text = next_steps(_project(folder, files))
        named = re.findall(r"(/\S+?\.md)", text)
        assert named and all(Path(p).is_file() for p in named), text


def test_a_scene_using_the_seed_api_counts(tmp_path):
    _project(tmp_path, {"levels/env.tscn": '[node name="M" type="cSharedMemory"]\n'})
    assert uses_seed_api(tmp_path)


def test_a_gymenv_game_playing_a_torch_policy_is_not_a_port(tmp_path):
    # cTorchModel is ours too (docs/TORCH.md: a policy played in the game): not a sign of a port
    result = _project(tmp_path, {"player.gd": "var model = cTorchModel.new()\n"})
    assert not uses_seed_api(tmp_path)
    assert "new-env" in next_steps(result) and "PORTING.md" not in next_steps(result)
