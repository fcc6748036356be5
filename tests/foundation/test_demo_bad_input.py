"""`godot-aigym demo` given a wrong --project, --output or --skip-training policy: a line naming
the option and the fix, exit code 2, no traceback (each was a bare FileNotFoundError, a torch
RuntimeError, or "libraries not built" for a project that does not exist). Real engine resolver
and demo project; no training runs.
"""

from __future__ import annotations

import pytest

from godot_aigym.demo.app import main


@pytest.fixture
def run_demo(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "1000")  # rich wraps long paths otherwise

    def run(*argv: str) -> str:
        assert main(list(argv)) == 2
        out = capsys.readouterr()
        assert "Traceback" not in out.out + out.err
        return " ".join(out.out.split())
    return run


@pytest.mark.parametrize("demo", [["--skip-training"], ["--env", "reach"]], ids=["cartpole", "reach"])
def test_a_project_that_does_not_exist_is_named_as_such(run_demo, tmp_path, demo):
    out = run_demo(*demo, "--project", str(tmp_path / "nowhere"), "--output", str(tmp_path / "o"))
    assert f"--project: {tmp_path / 'nowhere'} does not exist" in out and "not built" not in out


@pytest.mark.parametrize("demo", [["--skip-training"], ["--env", "reach"]], ids=["cartpole", "reach"])
def test_an_output_folder_that_cannot_be_made_is_named(run_demo, tmp_path, demo):
    (tmp_path / "a_file").write_text("mine")
    out = run_demo(*demo, "--output", str(tmp_path / "a_file" / "out"))
    assert f"cannot write the output folder {tmp_path / 'a_file' / 'out'} (" in out and "--output" in out


def test_a_policy_that_is_not_torchscript_is_refused_before_any_engine_runs(run_demo, tmp_path):
    bad = tmp_path / "bad.jit"
    bad.write_text("junk")
    out = run_demo("--skip-training", "--policy", str(bad), "--output", str(tmp_path / "o"))
    assert f"--skip-training: the policy {bad} does not load as TorchScript (" in out
    assert "export one with godot_aigym.export_policy" in out
