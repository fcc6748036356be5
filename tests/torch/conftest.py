"""Models traced in Python for the TorchScript tests, with inputs and expected outputs on disk.

Every model is written once per session into a temporary folder (absolute paths: Godot's
`load()` accepts them) with 1,000 random input rows and the outputs Python's torch.jit gives
for them, row by row, as raw float32 files the GDScript side reads with
`FileAccess.get_file_as_bytes(...).to_float32_array()`. A manifest (JSON) lists them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from godot_aigym import export_policy  # noqa: E402
from suite_parallel import project_lock  # noqa: E402
from torch_preload import TEST_PROJECT, ensure_preload_model  # noqa: E402
from torch_test_models import ActorCritic, Argmax, DictOut, FloatAndIndex, Grid, Mlp, TanhPolicy  # noqa: E402

from godot_aigym.engine import ensure_imported  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TORCH_LIB = REPO / "demo_project" / "addons" / "godot_aigym" / "bin" / "libaigym_torch.linux.debug.x86_64.so"
ROWS = 1000


# ---- Files -------------------------------------------------------------------------------------
@dataclass
class ModelCase:
    name: str
    file: Path
    input_shape: list[int]
    outputs: list[Path] = field(default_factory=list)   # expected outputs, one file per output tensor
    output_sizes: list[int] = field(default_factory=list)
    inputs: Path | None = None
    set_shape: bool = False  # no metadata in the file: the GDScript side calls set_input_shape

    def manifest(self) -> dict:
        return {"name": self.name, "file": str(self.file), "input_shape": self.input_shape, "inputs": str(self.inputs),
                "outputs": [str(p) for p in self.outputs], "output_sizes": self.output_sizes, "set_shape": self.set_shape}


def write_f32(path: Path, array) -> Path:
    np.ascontiguousarray(np.asarray(array, dtype=np.float32)).tofile(path)
    return path


def expected_outputs(case: ModelCase, folder: Path, seed: int) -> None:
    """1,000 random inputs and what Python's torch.jit gives for each, one row at a time."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((ROWS, *case.input_shape), generator=gen) * 2.0
    model = torch.jit.load(str(case.file))
    model.eval()
    rows_out: list[list[np.ndarray]] = []
    with torch.inference_mode():
        for i in range(ROWS):
            out = model(x[i:i + 1])
            outs = list(out) if isinstance(out, tuple) else [out]
            rows_out.append([o.reshape(-1).numpy().copy() for o in outs])
    case.inputs = write_f32(folder / f"{case.name}.in.bin", x.numpy())
    n_out = len(rows_out[0])
    case.output_sizes = [int(rows_out[0][k].size) for k in range(n_out)]
    case.outputs = [write_f32(folder / f"{case.name}.out{k}.bin", np.stack([r[k] for r in rows_out])) for k in range(n_out)]


@pytest.fixture(autouse=True)
def torch_threads_restored():
    """Tests here pin torch to one thread for exact outputs; the next modules on this worker (SB3,
    RLlib training) get the default back, whichever order the workers ran the modules in."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def built_torch():
    if not TORCH_LIB.exists():
        pytest.fail(f"the torch library is not built ({TORCH_LIB} missing): run `.venv/bin/scons -j2`")
    return TORCH_LIB


@pytest.fixture(scope="session")
def torch_models(tmp_path_factory, built_torch) -> dict[str, ModelCase]:
    """The equivalence models, exported with export_policy (plus one plain torch.jit.save)."""
    folder = tmp_path_factory.mktemp("torch_models")
    torch.manual_seed(1234)
    threads = torch.get_num_threads()  # restored below: later modules on this worker train with the default
    torch.set_num_threads(1)
    specs = {
        "mlp": (Mlp(), [4]),
        "tanh_policy": (TanhPolicy(), [8]),
        "grid_2d": (Grid(), [2, 3]),
        "actor_critic": (ActorCritic(), [5]),
    }
    cases: dict[str, ModelCase] = {}
    for seed, (name, (module, shape)) in enumerate(specs.items()):
        path = export_policy(module, torch.zeros(1, *shape), folder / f"{name}.jit")
        cases[name] = ModelCase(name, path, shape)
    # A 2-D model saved without export_policy: no metadata, the game sets the input shape.
    plain = torch.jit.trace(Grid().eval(), torch.zeros(1, 2, 3))
    plain.save(str(folder / "grid_2d_plain.jit"))
    cases["grid_2d_plain"] = ModelCase("grid_2d_plain", folder / "grid_2d_plain.jit", [2, 3], set_shape=True)
    for seed, case in enumerate(cases.values()):
        expected_outputs(case, folder, seed)
    torch.set_num_threads(threads)
    return cases


@pytest.fixture(scope="session")
def manifest(torch_models, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("torch_manifest") / "manifest.json"
    path.write_text(json.dumps([c.manifest() for c in torch_models.values()], indent=1))
    return path


@pytest.fixture(scope="session")
def preload_model(built_torch, godot) -> Path:
    """res://generated/torch_preload.jit (torch_preload.py), the test project imported after a
    rewrite; under the project's lock: another worker may import or run it meanwhile."""
    with project_lock(TEST_PROJECT):
        path, written = ensure_preload_model()
        if written:
            ensure_imported(TEST_PROJECT, godot)
    return path


@pytest.fixture(scope="session")
def error_models(tmp_path_factory, built_torch) -> dict[str, Path]:
    """Files and models for the error cases."""
    folder = tmp_path_factory.mktemp("torch_errors")
    torch.manual_seed(99)
    good = export_policy(Mlp(), torch.zeros(1, 4), folder / "good.jit")
    files = {"good": good}
    plain = torch.jit.trace(Mlp().eval(), torch.zeros(1, 4))
    plain.save(str(folder / "plain.jit"))  # no metadata: a wrong length fails inside forward()
    files["plain"] = folder / "plain.jit"
    data = good.read_bytes()
    files["truncated"] = folder / "truncated.jit"
    files["truncated"].write_bytes(data[: len(data) * 6 // 10])
    files["text"] = folder / "notes.jit"
    files["text"].write_text("This is a text file renamed to .jit, not TorchScript.\n" * 20)
    files["random"] = folder / "random.jit"
    files["random"].write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    files["state_dict"] = folder / "state_dict.jit"
    torch.save(Mlp().state_dict(), files["state_dict"])
    files["empty"] = folder / "empty.jit"
    files["empty"].write_bytes(b"")
    for name, module in (("argmax", Argmax()), ("float_and_index", FloatAndIndex())):
        traced = torch.jit.trace(module.eval(), torch.zeros(1, 4))
        traced.save(str(folder / f"{name}.jit"))
        files[name] = folder / f"{name}.jit"
    scripted = torch.jit.script(DictOut())
    scripted.save(str(folder / "dict_out.jit"))
    files["dict_out"] = folder / "dict_out.jit"
    files["missing"] = folder / "does_not_exist.jit"
    return files
