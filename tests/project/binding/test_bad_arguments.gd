## Wrong argument types on the dynamic path: the engine reports a clear error, no crash. Every
## case named by the user arguments runs in its own function: a failed call aborts that function
## (its "SURVIVED" line is never printed), and the next case runs.
extends SceneTree


func _initialize() -> void:
	var probe: Object = cBindingProbe.new()  # Object.call resolves at run time (varcall)
	for which in OS.get_cmdline_user_args():
		_run_case(probe, which)
	quit(0)


func _run_case(probe: Object, which: String) -> void:
	print("CASE ", which)
	match which:
		"string_for_int":
			probe.call("echo_int", "not a number")
		"array_for_packed":
			probe.call("sum_float32", {"a": 1})
		"too_few":
			probe.call("add_int32", 1)
		"too_many":
			probe.call("echo_bool", true, false)
		"wrong_object":
			probe.call("counter_of", RefCounted.new())
	print("SURVIVED ", which)
