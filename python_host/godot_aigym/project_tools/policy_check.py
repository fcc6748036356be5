"""`export`'s check that the policy loads, done by the engine as the shipped game will do it.

The engine opens the policy through `cTorchModel` (our torch library, which loads libtorch on the
first model) in a throw-away project next to the export's staging folder, so the `godot-aigym`
process never imports torch: `import torch` + `torch.jit.load` cost ~4 CPU-s, this run ~1.
The throw-away project names our built libraries by absolute path, and its engine keeps its user
data (logs) in that folder too, so nothing is written into the user's project or home.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from ..runtime import GodotRuntime
from .errors import ProjectError
from .godot_project import run_engine

CHECK_TIMEOUT = 300.0  # safety only: the run loads libtorch and one model
RESULT_PREFIX = "AIGYM_POLICY_CHECK "
TORCH_LOADER = "libaigym_torch."  # the library the torch .gdextension names (it opens the rest from its folder)

CHECK_SCRIPT = """extends SceneTree
func _initialize() -> void:
	var path: String = OS.get_cmdline_user_args()[0]
	var loaded := false
	if ClassDB.class_exists(&"cTorchModel"):
		var data = load(path)
		if data != null:
			var model: Object = ClassDB.instantiate(&"cTorchModel")
			model.call(&"set_data", data)
			loaded = model.call(&"is_loaded")
	print("%s", JSON.stringify({"torch_classes": ClassDB.class_exists(&"cTorchModel"), "loaded": loaded}))
	quit()
""" % RESULT_PREFIX

GDEXTENSION = """[configuration]
entry_symbol = "aigym_torch_library_init"
compatibility_minimum = "4.3"
reloadable = false

[libraries]
linux.x86_64 = {library}
"""


def require_policy_file(policy: Path) -> None:
    if policy.is_dir():
        raise ProjectError(f"the policy {policy} is a folder: give the TorchScript file (from godot_aigym.export_policy(...))")
    if not policy.is_file():
        raise ProjectError(f"the policy {policy} does not exist: export one with godot_aigym.export_policy(...)")


def _torch_loader(libraries: dict[str, Path]) -> Path:
    loader = next((path for name, path in libraries.items() if name.startswith(TORCH_LOADER)), None)
    if loader is None:
        raise ProjectError("torch is needed to check and ship a policy (the TorchScript library is built with it): "
                           "pip install 'godot-aigym[torch]'")
    return loader


def _first_error(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("ERROR:"):
            return line[len("ERROR:"):].strip()
    return "the engine reported no reason"


def _result(output: str) -> dict | None:
    """The check script's result line, None where there is none it could have written."""
    for line in output.splitlines():
        if line.startswith(RESULT_PREFIX):
            try:
                result = json.loads(line[len(RESULT_PREFIX):])
            except ValueError:  # cut short (the engine died while printing it)
                return None
            return result if isinstance(result, dict) else None
    return None


def check_policy_loads(policy: Path, runtime: GodotRuntime, libraries: dict[str, Path], workdir: Path) -> None:
    """Refuse (ProjectError) a policy the engine cannot load with `libraries` (the ones shipped).
    `workdir`: an empty folder of ours, for the throw-away project (the caller removes it)."""
    require_policy_file(policy)
    loader = _torch_loader(libraries)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "project.godot").write_text('config_version=5\n\n[application]\n\nconfig/name="policy check"\n')
    (workdir / "check.gd").write_text(CHECK_SCRIPT)
    (workdir / "torch.gdextension").write_text(GDEXTENSION.format(library=json.dumps(str(loader.resolve()))))
    (workdir / ".godot").mkdir(exist_ok=True)
    (workdir / ".godot" / "extension_list.cfg").write_text("res://torch.gdextension\n")
    # Godot's loader goes by the extension (.jit), and the game ships the file as policy.jit
    # whatever its name: the engine loads it under that name (a model.pt of export_policy too)
    shipped_name = workdir / "policy.jit"
    try:
        shipped_name.symlink_to(policy.resolve())
    except OSError:  # a file system without symlinks
        shutil.copyfile(policy, shipped_name)
    data = str(workdir / "user_data")
    env = {"XDG_DATA_HOME": data, "XDG_CONFIG_HOME": data, "XDG_CACHE_HOME": data}
    code, output, _ = run_engine(
        [str(runtime.path), "--headless", "--path", str(workdir), "--script", "res://check.gd", "--", str(shipped_name)],
        CHECK_TIMEOUT, f"the engine's check of the policy {policy} did not finish within {CHECK_TIMEOUT:g} s",
        env={**os.environ, **env}, stderr=subprocess.STDOUT)
    result = _result(output)
    if result is None or not result.get("torch_classes"):
        tail = "\n".join(output.splitlines()[-20:])
        raise ProjectError(f"the engine could not check the policy {policy} (exit {code}; "
                           f"the TorchScript library {loader.name} did not load?):\n{tail}")
    if not result.get("loaded"):
        raise ProjectError(f"the policy {policy} does not load as TorchScript ({_first_error(output)}): export it "
                           "with godot_aigym.export_policy(module, example_input, path)")
