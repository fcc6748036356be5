"""The binding layer, exercised through cBindingProbe (the test-only libaigym_probe, loaded by
tests/project/binding/aigym_probe.gdextension) in the real engine."""

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


WRONG_ARGUMENTS = {
    # Object.call counts the method name as argument 1, so the bad value is "argument 2".
    "string_for_int": r"'echo_int \(via call\)' in base 'cBindingProbe'\. Cannot convert argument 2 from String to int",
    "array_for_packed": r"'sum_float32 \(via call\)'.*Cannot convert argument 2 from Dictionary to PackedFloat32Array",
    "too_few": r"'add_int32 \(via call\)' in base 'cBindingProbe'\. Expected 2 argument",
    "too_many": r"'echo_bool \(via call\)' in base 'cBindingProbe'\. Expected 1 argument",
    "wrong_object": r"'counter_of \(via call\)'.*class of argument 2 \(RefCounted\) is not a subclass",
}


def test_wrong_arguments_give_clear_errors(run_gdscript):
    """Every case in one engine run, each in a function of its own: a failed call aborts that
    function (its SURVIVED line never comes) and the engine goes on to the next case and exits
    normally, every case's error in its log."""
    run = run_gdscript("res://binding/test_bad_arguments.gd", user_args=list(WRONG_ARGUMENTS), quit_after=5,
                       expected_errors=(*WRONG_ARGUMENTS.values(), "SCRIPT ERROR"))
    for case in WRONG_ARGUMENTS:
        assert f"CASE {case}" in run.output
    assert "SURVIVED" not in run.output


def test_exceptions_in_create_and_ptrcall_are_contained(run_gdscript):
    run = run_gdscript("res://binding/test_exceptions.gd", user_args=["create_and_ptrcall"],
                       expected_errors=(r"cBindingProbe\.new: cBindingProbe: constructor failure armed by the test",
                                        r"cBindingProbe\.fail: thrown in a ptrcall",
                                        # the engine's own line when an instance cannot be made
                                        r"Class type: 'cBindingProbe' is not instantiable"))
    assert run.results["live_after_failed_create"] == 1, "the failed construction left an instance behind"
    assert run.results["live_after_create"] == 2
    assert run.results["after_ptrcall_exception"] == 5


def test_exception_in_varcall_fails_the_call(run_gdscript):
    # The caller sees a failed call (GDScript stops the function: "SURVIVED" is never printed),
    # right after our error line naming the class, method and exception; the engine exits normally.
    run = run_gdscript("res://binding/test_exceptions.gd", user_args=["varcall"], quit_after=5,
                       expected_errors=(r"cBindingProbe\.fail: thrown in a varcall", "SCRIPT ERROR"))
    assert "CASE varcall" in run.output
    assert "SURVIVED" not in run.output
