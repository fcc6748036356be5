"""The torch library finds libtorch wherever the project goes (docs/TORCH.md, "Finding libtorch").

`demo_project` (with its built `bin/`) is copied to a temporary folder and the engine runs a
policy there with a clean environment (no LD_LIBRARY_PATH, no venv, no PYTHONPATH):
- as developed: bin/libtorch_dir.txt (written by the build) points at the torch wheel;
- as shipped: no record, libtorch copied next to the extension by `copy_libtorch`; the loader's
  own trace (LD_DEBUG=files) shows libtorch loaded from the copy and nothing from the venv;
- lazily: an engine that never loads a model never loads libtorch (start-up costs nothing);
- without libtorch: the classes exist, the first model load fails with one clear error naming
  the search and the fix, and the engine exits normally.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from godot_aigym import export_policy
from godot_aigym.ship import ShipError, copy_libtorch, torch_lib_dir
from torch_test_models import Mlp

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:`torch\\.jit\\.:DeprecationWarning")

REPO = Path(__file__).resolve().parents[2]
BIN = Path("addons/godot_aigym/bin")
OBSERVATION = [0.5, -1.0, 2.0, 0.25]
SCRIPT = """extends SceneTree
func _initialize() -> void:
	var available := ClassDB.class_exists(&"cTorchModel")
	print("RELOC_AVAILABLE ", available)
	if available:
		var model: RefCounted = ClassDB.instantiate(&"cTorchModel")
		model.call(&"set_data", load("res://reloc_policy.jit"))
		print("RELOC_OUT ", JSON.stringify(Array(model.call(&"run", PackedFloat32Array(%s)))))
	quit(0)
""" % json.dumps(OBSERVATION)


@pytest.fixture
def moved_project(tmp_path, built_torch):
    """A copy of demo_project (and its libraries) with a policy and a check script."""
    project = tmp_path / "moved game"  # a space in the path on purpose
    shutil.copytree(REPO / "demo_project", project, symlinks=True,
                    ignore=shutil.ignore_patterns("libtorch"))  # never a stale shipped copy
    torch.manual_seed(5)
    module = Mlp().eval()
    export_policy(module, torch.zeros(1, 4), project / "reloc_policy.jit")
    (project / "reloc_check.gd").write_text(SCRIPT)
    with torch.inference_mode():
        expected = module(torch.tensor([OBSERVATION])).reshape(-1).tolist()
    yield project, expected
    shutil.rmtree(project)  # a shipped libtorch is ~440 MB: not kept in pytest's temporary folders


def run_clean(godot, project: Path, home: Path, **extra_env) -> subprocess.CompletedProcess:
    """The engine with only PATH and HOME (and `extra_env`): no LD_LIBRARY_PATH, no venv."""
    home.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), **extra_env}
    return subprocess.run([str(godot.path), "--headless", "--path", str(project), "-s", "res://reloc_check.gd"],
                          cwd=home, env=env, capture_output=True, text=True, timeout=180)


def outputs(proc) -> tuple[bool, list[float] | None]:
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    for bad in ("SCRIPT ERROR", "Error loading extension", "Segmentation fault", "crash"):
        assert bad not in text, text[-3000:]
    available = re.search(r"RELOC_AVAILABLE (\w+)", text)
    out = re.search(r"RELOC_OUT (.*)", text)
    assert available, text[-3000:]
    return available.group(1) == "true", json.loads(out.group(1)) if out else None


def test_development_copy_finds_the_wheel_through_the_record(godot, moved_project, tmp_path):
    project, expected = moved_project
    assert (project / BIN / "libtorch_dir.txt").read_text().strip() == str(torch_lib_dir())
    proc = run_clean(godot, project, tmp_path / "home", LD_DEBUG="files")
    available, out = outputs(proc)
    assert available
    assert out == pytest.approx(expected, abs=1e-6)
    # the first model load opened the runtime library and libtorch (not before it: the next test)
    assert "libaigym_torch_runtime." in proc.stderr and "libtorch_cpu.so" in proc.stderr


def test_shipped_copy_runs_without_the_venv(godot, moved_project, tmp_path):
    project, expected = moved_project
    (project / BIN / "libtorch_dir.txt").unlink()
    shipped = copy_libtorch(project / BIN / "libtorch")
    assert sorted(p.name for p in shipped.files) == ["libc10.so", "libgomp.so.1", "libtorch.so", "libtorch_cpu.so"]
    assert shipped.total_bytes == sum(p.stat().st_size for p in shipped.files)
    # the venv's torch is mentioned nowhere: not in the project, not in the environment
    venv_torch = str(torch_lib_dir())
    for path in (project / BIN).iterdir():
        if path.is_file():
            assert venv_torch.encode() not in path.read_bytes(), f"{path.name} names {venv_torch}"
    proc = run_clean(godot, project, tmp_path / "home", LD_DEBUG="files")
    available, out = outputs(proc)
    assert available
    assert out == pytest.approx(expected, abs=1e-6)
    loaded = [p.strip() for p in re.findall(r"calling init: (.+)", proc.stderr)]
    assert str(project / BIN / "libtorch" / "libtorch_cpu.so") in loaded, loaded
    assert not [p for p in loaded if p.startswith(venv_torch)], "libtorch was loaded from the venv"


def test_libtorch_is_loaded_on_first_use_of_a_model_only(godot, moved_project, tmp_path):
    project, _ = moved_project
    (project / "no_model.gd").write_text(
        'extends SceneTree\nfunc _initialize() -> void:\n\tprint("HAS ", ClassDB.class_exists(&"cTorchModel"))\n\tquit(0)\n')
    proc = subprocess.run([str(godot.path), "--headless", "--path", str(project), "-s", "res://no_model.gd"],
                          cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LD_DEBUG": "files"},
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and "HAS true" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    initialised = [p.strip() for p in re.findall(r"calling init: (.+)", proc.stderr)]
    assert [p for p in initialised if "libaigym_torch_model." in p], initialised  # the classes are registered...
    torch_side = ("libtorch", "libc10", "libaigym_torch_runtime")
    assert not [p for p in initialised if Path(p).name.startswith(torch_side)], initialised  # ...without libtorch
    # that the first model load opens them is checked on the development copy's run (the test above)


def test_without_libtorch_the_first_model_load_fails_with_one_clear_error(godot, moved_project, tmp_path):
    project, _ = moved_project
    (project / BIN / "libtorch_dir.txt").unlink()
    proc = run_clean(godot, project, tmp_path / "home")
    available, out = outputs(proc)
    assert available   # the classes are registered; scripts that name them still parse
    text = proc.stdout + proc.stderr
    errors = [line for line in text.splitlines() if line.startswith("ERROR:")]
    assert errors and "cTorchModel.set_data: 'res://reloc_policy.jit': godot-aigym: libtorch not found" in errors[0], text
    assert text.count("libtorch not found") == 1, text   # once, at the first load; run() then says no model
    assert str(project / BIN / "libtorch") in text          # names where it looked
    assert "libtorch_dir.txt" in text
    assert "copy_libtorch" in text and "godot-aigym setup" in text   # and the fix


def test_a_wrong_libtorch_dir_variable_is_an_error_not_a_fallback(godot, moved_project, tmp_path):
    project, _ = moved_project   # the record still points at a working libtorch
    empty = tmp_path / "no libtorch here"
    empty.mkdir()
    proc = run_clean(godot, project, tmp_path / "home", GODOT_AIGYM_LIBTORCH_DIR=str(empty))
    available, _ = outputs(proc)
    assert available
    assert f"$GODOT_AIGYM_LIBTORCH_DIR = {empty}: {empty}/libc10.so does not exist" in proc.stdout + proc.stderr


def test_copy_libtorch_refusals(tmp_path):
    with pytest.raises(ShipError, match=r"no TorchScript runtime library \(libaigym_torch_runtime\.\*\.so\) in .*: build"):
        copy_libtorch(tmp_path / "bin" / "libtorch")
    not_elf = tmp_path / "libaigym_torch_runtime.linux.debug.x86_64.so"
    not_elf.write_text("not a library")
    with pytest.raises(ShipError, match="not a 64-bit little-endian ELF file"):
        copy_libtorch(tmp_path / "libtorch")
    assert not (tmp_path / "libtorch").exists(), "nothing is created when the copy is refused"
