"""Export a trained torch policy for the game: a TorchScript ``.jit`` file that Godot loads with
``load("res://policy.jit")`` and runs natively with ``cTorchModel`` (no Python in the game).

    from godot_aigym import export_policy
    export_policy(policy, torch.zeros(1, obs_size), "my_game/policy.jit")

In the game the model receives a float32 tensor ``[rows, *sample_shape]``: ``rows`` is 1 for
``cTorchModel.run()`` and the row count for ``run_batch()``. ``example_input`` is therefore a
batch ``(B, *sample_shape)``; a 1-D example ``(n,)`` is taken as one sample ``(1, n)``. The
sample shape and output sizes are stored in the archive (extra file ``godot_aigym.txt``), so
the game checks input lengths and knows the input shape without configuration.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

INFO_FILE = "godot_aigym.txt"  # read by gdextension/torch/torch_model_runtime.cpp


class ExportError(RuntimeError):
    """The module cannot be exported, or the exported file does not reproduce its outputs."""


def _flat_tensors(value: Any, where: str = "output") -> list:
    """The tensors of a model output, depth-first, as the game sees them (tuples/lists only)."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        out = []
        for i, item in enumerate(value):
            out += _flat_tensors(item, f"{where}[{i}]")
        return out
    raise ExportError(f"{where} is a {type(value).__name__}: the game accepts a tensor or a (nested) tuple/list of tensors")


def _compare(expected: Any, got: Any, atol: float, rtol: float, what: str) -> float:
    import torch

    exp, out = _flat_tensors(expected), _flat_tensors(got)
    if len(exp) != len(out):
        raise ExportError(f"{what}: the original module gives {len(exp)} output tensors, the exported one {len(out)}")
    worst = 0.0
    for i, (e, o) in enumerate(zip(exp, out)):
        if e.shape != o.shape:
            raise ExportError(f"{what}: output {i} has shape {tuple(o.shape)} after export, {tuple(e.shape)} before")
        if not e.is_floating_point():
            raise ExportError(f"{what}: output {i} is a {e.dtype} tensor; the game needs floating-point outputs "
                              "(cast it in the module, e.g. `.float()`)")
        e64, o64 = e.detach().double(), o.detach().double()
        diff = (e64 - o64).abs()
        worst = max(worst, float(diff.max()) if diff.numel() else 0.0)
        if not torch.all(diff <= atol + rtol * e64.abs()):
            raise ExportError(f"{what}: output {i} differs after export by up to {float(diff.max()):.3g} "
                              f"(allowed {atol:g} + {rtol:g}·|value|)")
    return worst


def export_policy(module: Any, example_input: Any, path: str | os.PathLike, *, method: str = "trace",
                  freeze: bool = False, check_batch_sizes: Sequence[int] = (1, 7), atol: float = 1e-6,
                  rtol: float = 1e-6, seed: int = 0) -> Path:
    """Trace (or script) `module`, save it as TorchScript at `path`, reload it and check it.

    module:        a ``torch.nn.Module`` (or an already scripted/traced one). It is exported in
                   eval mode (dropout off, batch-norm statistics fixed); its training flag is
                   restored afterwards.
    example_input: a float32 tensor ``(B, *sample_shape)`` (or ``(n,)``: one sample) used to trace.
    method:        ``"trace"`` (``torch.jit.trace``, the default) or ``"script"`` (``torch.jit.script``,
                   for data-dependent control flow).
    freeze:        apply ``torch.jit.freeze`` (parameters become constants; a little faster).
    check_batch_sizes: besides the example itself, random inputs with these many rows are run through
                   the original and the reloaded model and must agree: a trace that baked in the
                   example's batch size fails here instead of in the game.
    atol, rtol:    allowed difference between original and reloaded outputs.

    Returns `path` (a ``Path``). Raises ``ExportError`` when the module cannot be exported, its
    outputs are not floating-point tensors, or the reloaded file gives different outputs.
    """
    import torch

    if method not in ("trace", "script"):
        raise ValueError(f"method must be 'trace' or 'script', not {method!r}")
    if type(module).__module__.startswith("stable_baselines3.") and hasattr(module, "action_net"):
        # its forward() samples actions (int64 for a discrete space) with values and log-probabilities:
        # "cast it to float" (the dtype check below) would ship a policy that always plays action 0
        from .locations import doc

        raise ExportError(f"{type(module).__name__} is a Stable-Baselines3 policy, whose forward() samples actions: "
                          "export its actor (observation -> logits, or the mean action for a Box), a torch module "
                          "whose forward(obs) is policy.action_net(policy.mlp_extractor.forward_actor("
                          f"policy.extract_features(obs, policy.pi_features_extractor))) ({doc('YOUR_GAME.md')}, step 4)")
    if not isinstance(example_input, torch.Tensor):
        raise ExportError(f"example_input must be a torch.Tensor, not {type(example_input).__name__}")
    if example_input.dtype != torch.float32:
        raise ExportError(f"example_input is {example_input.dtype}: the game passes float32 inputs "
                          "(use example_input.float())")
    if example_input.dim() == 0:
        raise ExportError("example_input must have at least one dimension")
    example = example_input.detach().cpu()
    if example.dim() == 1:
        example = example.unsqueeze(0)
    sample_shape = tuple(example.shape[1:])
    path = Path(path)

    was_training = getattr(module, "training", False)
    if hasattr(module, "eval"):
        module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # torch >= 2.10 flags every torch.jit call as deprecated; TorchScript is what the game runs.
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
            if method == "trace":
                exported = torch.jit.trace(module, example, check_trace=True)
            else:
                exported = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module)
            exported.eval()
            if freeze:
                exported = torch.jit.freeze(exported)

            generator = torch.Generator().manual_seed(seed)
            inputs = [("the example input", example)]
            scale = float(example.abs().max()) or 1.0
            for rows in check_batch_sizes:
                batch = torch.randn((int(rows), *sample_shape), generator=generator) * scale
                inputs.append((f"a random batch of {int(rows)}", batch))
            expected = [(what, x, module(x)) for what, x in inputs]
            out_tensors = _flat_tensors(expected[0][2])
            rows = example.shape[0]
            output_sizes = [t.numel() // rows if t.numel() % rows == 0 else t.numel() for t in out_tensors]

            info = (f"format=1\ninput_shape={','.join(str(d) for d in sample_shape)}\n"
                    f"output_sizes={','.join(str(s) for s in output_sizes)}\n"
                    f"exporter=godot_aigym {_version()}, torch {torch.__version__}\n")
            path.parent.mkdir(parents=True, exist_ok=True)
            buffer = io.BytesIO()
            torch.jit.save(exported, buffer, _extra_files={INFO_FILE: info})
            data = buffer.getvalue()
            # Rewrite only on change: an unchanged file keeps its mtime (no needless re-import).
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)

            reloaded = torch.jit.load(str(path), map_location="cpu")
            reloaded.eval()
            for what, x, want in expected:
                try:
                    got = reloaded(x)
                except Exception as e:  # noqa: BLE001 - report any failure of the exported model
                    raise ExportError(f"the exported model fails on {what} of shape {tuple(x.shape)}: {e}") from e
                _compare(want, got, atol, rtol, f"on {what}")
    finally:
        if hasattr(module, "train"):
            module.train(was_training)
    return path


def read_export_info(path: str | os.PathLike) -> dict[str, str]:
    """The key/value information export_policy stored in a ``.jit`` file ({} for a plain one)."""
    import torch

    extra = {INFO_FILE: ""}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    text = extra[INFO_FILE]
    if isinstance(text, bytes):
        text = text.decode()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _version() -> str:
    from . import __version__

    return __version__
