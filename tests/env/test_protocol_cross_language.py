"""The step protocol's constants and size formulas agree between Python (env/protocol.py) and
GDScript (addons/godot_aigym/env/gym_protocol.gd): a real engine prints its side, Python
compares (as tests/shm/test_layout_c_python.py does for the chunk layout)."""

from __future__ import annotations

from godot_aigym.env import protocol as P


def test_gdscript_and_python_agree(run_gdscript):
    run = run_gdscript("res://env/print_protocol.gd")
    engine = run.results["constants"]
    ours = {name: getattr(P, name) for name in engine}
    assert engine == ours
    assert engine["GROUPS_TYPE"] == "groups"  # agent groups' spec type (GymGroupEnv, env/groups.py)
    python_only = {"ENTRY_KINDS", "OUT_SCALARS"} - set(engine)
    assert python_only <= {"ENTRY_KINDS"}  # every numeric constant exists on both sides
    assert run.results["part_entries"] == [P.part_entry("gym_", P.PART_OBS, "camera"),
                                           P.part_entry("p_", P.PART_FINAL_OBS, "rays")]
    for case in run.results["sizes"]:
        n, d, w = case["n"], case["d"], case["w"]
        layout = P.Layout(n, d, w)
        assert case["in_size"] == layout.in_size == P.in_size(n, w)
        assert case["out_size"] == layout.out_size == P.out_size(n, d)
        offsets = case["offsets"]
        assert offsets == {"reward": layout.reward.start, "terminated": layout.terminated.start,
                           "truncated": layout.truncated.start, "final_obs": layout.final_obs.start}
        assert layout.final_obs.stop == layout.out_size and layout.actions.stop == layout.in_size
