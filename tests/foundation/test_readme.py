"""The README's Python quick start runs as printed (it needs no engine)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_quick_start_runs():
    text = README.read_text()
    section = text[text.index("## Quick start (Python)"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[-0.5 -0.5 -0.5 -0.5]", "{'lr': 0.0001, 'seed': 2}"]


def test_readme_starts_with_the_two_commands():
    text = README.read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    assert [line.split("#")[0].strip() for line in first_block.splitlines()] == ["make demo", "make test"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "make test"


def test_use_it_in_your_own_game_takes_five_steps_of_real_commands():
    text = README.read_text()
    section = text[text.index("## Use it in your own game"):]
    section = section[:section.index("\n## ", 1)]
    steps = re.findall(r"^(\d+)\. ", section, re.M)
    assert steps == [str(i) for i in range(1, len(steps) + 1)] and len(steps) <= 5
    from godot_aigym.cli import COMMANDS

    named = set(re.findall(r"`godot-aigym ([a-z-]+)", section))
    assert {"add", "new-env", "export"} <= named <= set(COMMANDS) | {"demo"}
