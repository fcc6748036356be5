## The baseline of bench/bench_env.py: an empty scene's frame rate, timed inside Godot.
## Run with --fixed-fps F (no frame sleeping); counts `--frames N` physics frames after a warm-up
## of 1000, prints "AIGYM_EMPTY_LOOP {json}" and quits.
extends Node

var frames := 0
var n := 100000
var warmup := 1000
var t0 := 0


func _ready() -> void:
	var args := OS.get_cmdline_user_args()
	var i := args.find("--frames")
	if i >= 0 and i + 1 < args.size():
		n = int(args[i + 1])


func _physics_process(_delta: float) -> void:
	frames += 1
	if frames == warmup:
		t0 = Time.get_ticks_usec()
	elif frames == warmup + n:
		var seconds := (Time.get_ticks_usec() - t0) / 1e6
		print("AIGYM_EMPTY_LOOP " + JSON.stringify({"frames": n, "seconds": seconds, "fps": n / seconds,
			"physics_ticks_per_second": Engine.physics_ticks_per_second}))
		get_tree().quit()
