## Engine side of bench/bench_step.py: per step wait "act_ready", read 16 floats from "act",
## write act + 1 to "obs", post "obs_ready". Arguments: <steps> <spin_us>.
extends SceneTree


func _initialize() -> void:
	var args := OS.get_cmdline_user_args()
	var steps := int(args[-2])
	var mem := cSharedMemory.new()
	var act: cPersistentFloatTensor = mem.findFloatTensor("act")
	var obs: cPersistentFloatTensor = mem.findFloatTensor("obs")
	var act_ready: cSharedMemorySemaphore = mem.findSemaphore("act_ready")
	var obs_ready: cSharedMemorySemaphore = mem.findSemaphore("obs_ready")
	act_ready.spin_us = int(args[-1])
	for i in steps:
		if not act_ready.wait():
			break
		var a: PackedFloat32Array = act.read()
		for j in a.size():
			a[j] += 1.0
		obs.write(a)
		obs_ready.post()
	quit(0)
