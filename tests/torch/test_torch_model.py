"""cTorchModelData / cTorchModel in the real engine: outputs equal Python's, the resource API,
errors, threads, and a large model."""

from __future__ import annotations

import os

import pytest

TOL = 1e-6
# torch >= 2.10 marks every torch.jit function deprecated; TorchScript is what the game runs.
pytestmark = pytest.mark.filterwarnings("ignore:`torch\\.jit\\.:DeprecationWarning")


def test_outputs_match_python(run_gdscript, torch_models, manifest):
    run = run_gdscript("res://torch/test_torch_outputs.gd", user_args=[str(manifest)], timeout=120)
    assert run.results["cases"] == len(torch_models)
    for name in torch_models:
        assert run.results[f"rows_{name}"] == 1000
        assert run.results[f"maxerr_{name}"] <= TOL, name
        assert run.results[f"batch_maxerr_{name}"] <= TOL, name
    assert run.results["maxerr_outputs_actor_critic"] <= TOL


def _python_out(path, x, rows=1):
    import torch

    model = torch.jit.load(str(path))
    with torch.inference_mode():
        return model(torch.tensor(x, dtype=torch.float32).reshape(rows, -1)).reshape(-1).tolist()


def test_resource_and_model_api(run_gdscript, torch_models, preload_model, tmp_path):
    mlp, policy = torch_models["mlp"].file, torch_models["tanh_policy"].file
    run = run_gdscript("res://torch/test_torch_resource.gd", user_args=[str(mlp), str(policy), str(tmp_path)])
    assert len(run.passed) >= 40
    assert run.results["data_size"] == mlp.stat().st_size
    x = [0.5, -1.0, 2.0, 0.25]
    assert run.results["seed_out"] == pytest.approx(_python_out(mlp, x), abs=TOL)
    assert run.results["preload_out"] == pytest.approx(_python_out(preload_model, x), abs=TOL)
    obs = [0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8]
    assert run.results["policy_out"] == pytest.approx(_python_out(policy, obs), abs=TOL)


# Case (printed by the script before it) -> the error it must log, as a regex.
ERROR_CASES = {
    "before_set_data": r"cTorchModel\.run: no model loaded: call set_data\(\) with a cTorchModelData",
    "text": r"cTorchModel\.set_data: '.*notes\.jit': not a TorchScript archive: torch\.jit\.save writes a zip file, these 1080 bytes are not one",
    "text_run": r"cTorchModel\.run: no model: '.*notes\.jit' failed to load \(see the error logged by set_data\)",
    "random": r"cTorchModel\.set_data: '.*random\.jit': not a TorchScript archive",
    "random_run": r"cTorchModel\.run: no model: '.*random\.jit' failed to load",
    "empty": r"cTorchModel\.set_data: '.*empty\.jit': not a TorchScript archive: the data is empty",
    "empty_run": r"cTorchModel\.run: no model: '.*empty\.jit' failed to load",
    "state_dict": r"cTorchModel\.set_data: '.*state_dict\.jit': a zip archive but not a TorchScript module \(saved with torch\.save",
    "state_dict_run": r"cTorchModel\.run: no model: '.*state_dict\.jit' failed to load",
    "truncated": r"cTorchModel\.set_data: '.*truncated\.jit': cannot deserialise the TorchScript archive \(corrupt or truncated file\?\): "
                 r"PytorchStreamReader failed reading zip archive",
    "truncated_run": r"cTorchModel\.run: no model: '.*truncated\.jit' failed to load",
    "missing": r"cTorchModelData: cannot read '.*does_not_exist\.jit': file not found",
    "wrong_length": r"cTorchModel\.run: the input has 3 values, the model expects 4 \(input_shape \[4\]\)",
    "wrong_length_batch": r"cTorchModel\.run_batch: the input has 7 values, the model expects 2 x 4 = 8 \(input_shape \[4\]\)",
    "bad_rows": r"cTorchModel\.run_batch: rows must be at least 1, got 0",
    "empty_input": r"cTorchModel\.run: the input is empty",
    "wrong_length_plain": r"cTorchModel\.run: the model's forward\(\) failed: mat1 and mat2 shapes cannot be multiplied \(1x3 and 4x64\)",
    "warmup_unknown_shape": r"cTorchModel\.warmup: the input shape is unknown \(the file has no export_policy metadata\): "
                            r"call set_input_shape\(\) first",
    "int_output": r"cTorchModel\.run: output 0 is a torch\.int64 tensor; outputs must be floating point",
    "int_second_output": r"cTorchModel\.run_outputs: output 1 is a torch\.int64 tensor",
    "dict_output": r"cTorchModel\.run: the model returned a GenericDict where a tensor or a tuple/list of tensors was expected",
    "bad_settings": r"cTorchModel\.set_num_threads: expected 0 \(libtorch's default\) or 1\.\.1024 threads, got -1",
}
# Lines the engine adds by itself.
ENGINE_ERRORS = (r"Failed loading resource: .*does_not_exist\.jit",
                 r"cTorchModel\.set_input_shape: every dimension must be positive, got 0")


def test_errors_are_clear_and_empty(run_gdscript, error_models):
    import json
    import re

    files = {k: str(v) for k, v in error_models.items()}
    run = run_gdscript("res://torch/test_torch_errors.gd", user_args=[json.dumps(files)],
                       expected_errors=tuple(ERROR_CASES.values()) + ENGINE_ERRORS)
    assert run.results["survived"] is True
    # Each message belongs to its own case: cut the log at the CASE markers.
    sections = dict(re.findall(r"^CASE (\S+)\n(.*?)(?=^CASE |\Z)", run.output, flags=re.M | re.S))
    assert set(ERROR_CASES) <= set(sections), f"cases missing from the log: {set(ERROR_CASES) - set(sections)}"
    for case, pattern in ERROR_CASES.items():
        errors = [line for line in sections[case].splitlines() if line.startswith("ERROR:")]
        assert errors, f"case {case}: no error logged"
        assert re.search(pattern, errors[0]), f"case {case}: first error is {errors[0]!r}, expected {pattern!r}"
    assert not [line for line in sections["after"].splitlines() if line.startswith("ERROR:")]


def test_large_model(run_gdscript, tmp_path):
    """~200 MB of parameters: loads (no stack buffers, no copies of the bytes) and matches Python."""
    import numpy as np
    import torch

    from godot_aigym import export_policy

    from torch_test_models import Large

    torch.manual_seed(5)
    torch.set_num_threads(1)
    module = Large().eval()
    path = export_policy(module, torch.zeros(1, 4), tmp_path / "large.jit", check_batch_sizes=())
    size = path.stat().st_size
    assert size > 190e6
    x = torch.randn(4, 4)
    reloaded = torch.jit.load(str(path))
    with torch.inference_mode():
        expected = torch.cat([reloaded(x[i:i + 1]) for i in range(len(x))])
    del reloaded, module
    x.numpy().astype(np.float32).tofile(tmp_path / "in.bin")
    expected.numpy().astype(np.float32).tofile(tmp_path / "out.bin")
    run = run_gdscript("res://torch/test_torch_large.gd",
                       user_args=[str(path), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], timeout=120)
    assert run.results["data_size"] == size
    assert run.results["maxerr"] <= TOL
    # Memory, not time (a loaded machine can stall any call): deserialising adds the weights to the
    # engine's resident memory; a second model reusing the deserialised module adds (almost) nothing.
    page = os.sysconf("SC_PAGE_SIZE")
    assert run.results["set_data_pages"] * page > size / 2, run.results
    assert run.results["second_set_data_pages"] * page < size / 20, "a second model must reuse the deserialised module"
    print({k: run.results[k] for k in ("load_ms", "set_data_ms", "run_ms", "second_set_data_ms", "set_data_pages",
                                       "second_set_data_pages")})
