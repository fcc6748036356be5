## Prints the engine side of the step protocol (GymProtocol: constants, size formulas, out
## offsets) for tests/env/test_protocol_cross_language.py to compare with protocol.py.
extends SceneTree

const Report := preload("res://lib/report.gd")


func _initialize() -> void:
	var r := Report.new()
	r.result("constants", GymProtocol.constants())
	var sizes := []
	for case in [[1, 1, 1], [1, 4, 2], [16, 4, 2], [3, 3, 3], [7, 11, 5]]:
		var n: int = case[0]
		var d: int = case[1]
		var w: int = case[2]
		sizes.append({"n": n, "d": d, "w": w, "in_size": GymProtocol.in_size(n, w),
			"out_size": GymProtocol.out_size(n, d), "offsets": GymProtocol.out_offsets(n, d)})
	r.result("sizes", sizes)
	r.result("part_entries", [GymProtocol.part_entry("gym_", GymProtocol.PART_OBS, "camera"),
		GymProtocol.part_entry("p_", GymProtocol.PART_FINAL_OBS, "rays")])
	# GymArgs: "--key value", "--key=value", bare flags, negative numbers as values
	var args := GymArgs.parse(PackedStringArray(["--handle", "aigym_x", "--n-agents=16", "--play",
		"--seed", "-5", "--policy", "res://p.jit"]))
	r.check_eq(args, {"handle": "aigym_x", "n-agents": "16", "play": "", "seed": "-5", "policy": "res://p.jit"},
		"GymArgs.parse")
	r.check_eq(GymArgs.int_value(args, "n-agents", 1), 16, "GymArgs.int_value")
	r.check_eq(GymArgs.int_value(args, "missing", 7), 7, "GymArgs.int_value default")
	r.finish(self)
