"""The binding layer, exercised through cBindingProbe in the real engine."""

import pytest


def test_probe_round_trips_every_type(run_gdscript, godot):
    run = run_gdscript(
        "res://binding/test_binding.gd",
        expected_errors=(r"cBindingProbe\.counter_of: 'other' must be a cBindingProbe, got null",
                         r"cBindingProbe\.fail: deliberate failure from the test"),
    )
    assert len(run.passed) >= 30
    assert run.results["describe"] == f"godot-aigym 0.1.0 extension running in Godot Engine v{godot.version}"
    # Sums computed in C++ from arrays built in GDScript: 0.25 * (0 + 1 + ... + 999) per 1000.
    assert run.results["sum_float32_0"] == 0
    assert run.results["sum_float32_1"] == 0
    assert run.results["sum_float32_1000000"] == pytest.approx(1000 * 0.25 * sum(range(1000)))
    assert run.results["live_with_children"] == 3
    assert run.results["live_after_release"] == 1, "children were not freed when released"
    assert run.results["counter_of_null"] == -1
    assert run.results["after_exception"] == 5, "the instance must keep working after a C++ exception"
    assert run.results["is_refcounted"] is True
    assert run.results["class"] == "cBindingProbe"


@pytest.mark.parametrize("case, message", [
    # Object.call counts the method name as argument 1, so the bad value is "argument 2".
    ("string_for_int", r"'echo_int \(via call\)' in base 'cBindingProbe'\. Cannot convert argument 2 from String to int"),
    ("array_for_packed", r"'sum_float32 \(via call\)'.*Cannot convert argument 2 from Dictionary to PackedFloat32Array"),
    ("too_few", r"'add_int32 \(via call\)' in base 'cBindingProbe'\. Expected 2 argument"),
    ("too_many", r"'echo_bool \(via call\)' in base 'cBindingProbe'\. Expected 1 argument"),
    ("wrong_object", r"'counter_of \(via call\)'.*class of argument 2 \(RefCounted\) is not a subclass"),
])
def test_wrong_arguments_give_clear_errors(run_gdscript, case, message):
    # A failed call aborts the GDScript function (so `quit()` is never reached): --quit-after
    # ends the run, and the engine must still exit normally, with the error in its log.
    run = run_gdscript("res://binding/test_bad_arguments.gd", user_args=[case], quit_after=5,
                       expected_errors=(message, "SCRIPT ERROR"))
    assert f"CASE {case}" in run.output
    assert "SURVIVED" not in run.output
