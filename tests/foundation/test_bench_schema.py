"""Every committed bench/results/*.json follows the one schema (bench/results_schema.py),
and the schema's checks and bench/summary.py work; the godot_rl_agents baseline's fixture
(bench/godot_rl) says where its files come from and refuses others (no benchmark is run here)."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # summary.py imports the schema module by name
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


schema = _load("results_schema")
RESULT_FILES = sorted((BENCH / "results").glob("*.json"))


def test_every_bench_has_a_results_file() -> None:
    assert {p.stem for p in RESULT_FILES} >= {"step", "env", "torch", "shared_object", "godot_rl"}


@pytest.mark.parametrize("path", RESULT_FILES, ids=lambda p: p.name)
def test_committed_results_match_the_schema(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert schema.validate(doc) == []
    assert doc["bench"] == path.stem


def _valid_doc() -> dict:
    rows = [
        schema.metric("a", "assign", "us", 1.05, better="lower", ours_spread=[1.0, 1.1], baseline_name="raw",
                      baseline=1.0, baseline_spread=[0.9, 1.1], goal=schema.goal("<=", 1.1, "<= 1.1x raw")),
        schema.metric("b", "rate", "steps/s", 50.0, better="higher"),
    ]  # fmt: skip
    m = {"cpu_model": "X", "cores": 2, "l2_bytes": 1 << 19, "l3_bytes": 1 << 25, "platform": "p", "python": "3"}
    return schema.results_doc("demo", rows, machine=m, repeats=5, spread="p10-p90")


def test_builders_compute_ratio_and_goal_and_validate() -> None:
    doc = _valid_doc()
    assert schema.validate(doc) == []
    a = doc["metrics"][0]
    assert a["ratio"] == pytest.approx(1.05) and a["goal_met"] is True
    assert doc["metrics"][1]["ratio"] is None and doc["metrics"][1]["goal_met"] is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema=1), "schema: must be 2"),
        (lambda d: d["run"]["machine"].pop("l3_bytes"), "run.machine.l3_bytes: missing"),
        (lambda d: d["run"].update(spread="iqr"), "run.spread"),
        (lambda d: d["metrics"][0].update(ratio=2.0), "is not ours / baseline"),
        (lambda d: d["metrics"][0].update(goal_met=False), "goal_met: False disagrees"),
        (lambda d: d["metrics"][0].update(ours_spread=[2.0, 1.0]), "low <= high"),
        (lambda d: d["metrics"][1].update(id="a"), "unique"),
        (lambda d: d["metrics"][0].pop("better"), "better: missing"),
        (lambda d: d["metrics"][0].update(value=1.0), "value: unknown key"),
        (lambda d: d["metrics"][0].update(baseline_name=None), "go together"),
    ],
)
def test_validation_names_what_is_wrong(mutate, message: str) -> None:
    doc = copy.deepcopy(_valid_doc())
    mutate(doc)
    errors = schema.validate(doc)
    assert any(message in e for e in errors), errors


def test_write_refuses_invalid_results_and_load_round_trips(tmp_path: Path) -> None:
    doc = _valid_doc()
    path = schema.write_results("demo", doc["metrics"], path=tmp_path / "demo.json", machine=doc["run"]["machine"],
                                repeats=5, spread="p10-p90")  # fmt: skip
    assert schema.load_results(path)["metrics"] == doc["metrics"]
    with pytest.raises(ValueError, match="run.repeats"):
        schema.write_results("demo", doc["metrics"], path=tmp_path / "x.json", machine=doc["run"]["machine"],
                             repeats=0, spread="p10-p90")  # fmt: skip
    assert not (tmp_path / "x.json").exists()


def test_value_tables_convert_with_values_unchanged() -> None:
    table = {
        "floor": {"value": 1.5, "unit": "us", "spread": [1.0, 2.0], "baseline": None, "baseline_value": None,
                  "ratio": None, "goal": None, "goal_met": None},
        "trip": {"value": 3.0, "unit": "us", "spread": [2.5, 4.0], "baseline": "floor", "baseline_value": 1.5,
                 "ratio": 2.0, "goal": "<= 3x floor", "goal_met": True},
        "rate": {"label": "steps", "value": 520.0, "unit": "steps/s", "spread": [500.0, 530.0], "baseline": "empty",
                 "baseline_value": 1000.0, "ratio": 0.52, "goal": 0.4, "goal_met": True},
    }  # fmt: skip
    rows = schema.metrics_from_value_table(table)
    trip, rate = rows[1], rows[2]
    assert (trip["ours"], trip["baseline"], trip["ratio"], trip["goal"]["op"], trip["goal_met"]) == (3.0, 1.5, 2.0, "<=", True)
    assert trip["baseline_spread"] == [1.0, 2.0] and trip["better"] == "lower"
    assert rate["goal"] == {"op": ">=", "ratio": 0.4, "text": ">= 0.4x empty"} and rate["better"] == "higher"


def test_summary_prints_every_committed_metric(capsys: pytest.CaptureFixture[str]) -> None:
    summary = _load("summary")
    assert summary.main([]) == 0
    out = capsys.readouterr().out
    total = sum(len(json.loads(p.read_text())["metrics"]) for p in RESULT_FILES)
    assert f"{total} metrics" in out
    for p in RESULT_FILES:
        assert f"{p.stem}: " in out  # one machine line per bench


def test_summary_rejects_a_file_off_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "old.json").write_text(json.dumps({"schema": 1, "metrics": {}}))
    assert _load("summary").main(["--dir", str(tmp_path)]) == 1
    assert "does not match the bench results schema" in capsys.readouterr().err


# -- bench/godot_rl: the godot_rl_agents baseline's fixture (bench/bench_godot_rl.py) ------------
def _fixture() -> ModuleType:
    spec = importlib.util.spec_from_file_location("godot_rl_fixture", BENCH / "godot_rl" / "fixture.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_godot_rl_fixture_names_its_source_and_scenes_use_only_known_files() -> None:
    fx = _fixture()
    m = fx.manifest()
    assert m["repository"] == "edbeeching/godot_rl_agents_plugin" and "MIT" in m["license"]
    paths = {e["path"] for e in m["files"]}
    assert {"LICENSE", "addons/godot_rl_agents/sync.gd", "addons/godot_rl_agents/controller/ai_controller_3d.gd"} <= paths
    for e in m["files"]:
        assert len(e["commit"]) == 40 and len(e["sha256"]) == 64, e
    ours = {p.name for p in fx.OURS.iterdir()}
    for n in (1, 16):  # one Sync node and n agents, every resource ours or the plugin's
        text = (fx.OURS / f"trivial_{n}.tscn").read_text()
        assert text.count('instance=ExtResource("2_agent")') == n and text.count('script = ExtResource("1_sync")') == 1
    for scene in fx.OURS.glob("*.tscn"):
        for res in re.findall(r'path="res://([^"]+)"', scene.read_text()):
            assert res in ours or res in paths, f"{scene.name} uses {res}: neither in project/ nor in plugin.json"


def test_godot_rl_fixture_hash_ignores_line_ends_only() -> None:
    fx = _fixture()
    h = fx.text_hash(b"extends Node\n\tvar a := 1\n")
    assert fx.text_hash(b"extends Node\r\n\tvar a := 1 \t\r\n") == h
    assert fx.text_hash(b"extends Node\n\tvar a := 2\n") != h


def test_godot_rl_fixture_refuses_missing_or_changed_plugin_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fx = _fixture()
    monkeypatch.setenv("GODOT_RL_PLUGIN_DIR", str(tmp_path))
    first = fx.manifest()["files"][0]["path"]
    with pytest.raises(fx.FixtureError, match="missing"):
        fx.plugin_files()
    for e in fx.manifest()["files"]:  # every file present, all with other contents
        (tmp_path / e["path"]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / e["path"]).write_text("changed\n")
    with pytest.raises(fx.FixtureError, match=f"is not edbeeching/godot_rl_agents_plugin's {re.escape(first)}"):
        fx.plugin_files()
