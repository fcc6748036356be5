## Wrong argument types on the dynamic path: the engine reports a clear error, no crash.
extends SceneTree


func _initialize() -> void:
	var probe: Object = cBindingProbe.new()  # Object.call resolves at run time (varcall)
	var which: String = OS.get_cmdline_user_args()[0] if OS.get_cmdline_user_args().size() > 0 else ""
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
	print("SURVIVED")
	quit(0)
