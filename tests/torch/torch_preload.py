"""res://generated/torch_preload.jit of the test project (a watched file: writing it makes the
project need a new import). Written by the set-up before it imports the projects (scripts/bootstrap.sh
runs this file), else by the suite's controller before its workers start (tests/suite_parallel.py),
and checked by the `preload_model` fixture; the last two under the project's lock."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from godot_aigym import export_policy
from torch_test_models import Mlp

REPO = Path(__file__).resolve().parents[2]
TEST_PROJECT = REPO / "tests" / "project"
PRELOAD_FILE = TEST_PROJECT / "generated" / "torch_preload.jit"  # res://generated/torch_preload.jit


def ensure_preload_model() -> tuple[Path, bool]:
    """(the file, whether it was written): rewritten only when its outputs would change (an
    unchanged file keeps its mtime, so the test project is not re-imported every session)."""
    torch.manual_seed(7)
    module = Mlp(4, 16, 2).eval()
    probe = torch.linspace(-1, 1, 8).reshape(2, 4)
    if PRELOAD_FILE.exists():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.10 on every torch.jit call
                old = torch.jit.load(str(PRELOAD_FILE))
            with torch.no_grad():
                if torch.equal(old(probe), module(probe)):
                    return PRELOAD_FILE, False
        except Exception:  # noqa: BLE001 - any unreadable leftover is simply rewritten
            pass
    PRELOAD_FILE.parent.mkdir(parents=True, exist_ok=True)
    tmp = PRELOAD_FILE.with_name(f".{PRELOAD_FILE.name}.{os.getpid()}.tmp")
    export_policy(module, torch.zeros(1, 4), tmp)
    tmp.replace(PRELOAD_FILE)  # atomic: an engine never loads half a file
    return PRELOAD_FILE, True


if __name__ == "__main__":
    ensure_preload_model()
