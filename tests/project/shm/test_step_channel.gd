## cStepChannel: a STEP's wait and actions, and its answer, in one native call each (GymEnv's
## lean step loop). The host made the semaphore "cmd" posted 4 times and the float tensors "step"
## [1, 4, 0, 0, 0.5, 0.25] (a STEP, flags 4, actions at 4), "reset" [2, 0, 0, 0, 9, 9] (another
## command), "half" [1, 0.5, 0, 0, 9, 9] (flags not a whole number) and "out" (3 floats).
extends SceneTree

const Report := preload("res://lib/report.gd")


func _initialize() -> void:
	var r := Report.new()
	var mem := cSharedMemory.new()
	r.check(mem.exists(), "attached to the --handle chunk")
	var cmd: cSharedMemorySemaphore = mem.findSemaphore("cmd")
	var ans: cSharedMemorySemaphore = mem.findSemaphore("ans")
	var out: cPersistentFloatTensor = mem.findFloatTensor("out")
	var actions := PackedFloat32Array([-1.0, -1.0])
	var alias := actions

	var unset := cStepChannel.new()
	r.check_eq(unset.wait_step(actions), -1, "wait_step before setup refused")
	r.check(not unset.answer(PackedFloat32Array([1.0, 2.0, 3.0])), "answer before setup refused")
	r.check(not unset.setup(cmd, ans, null, out, 4, 1), "setup without the in tensor refused")
	r.check(not unset.setup(cmd, ans, mem.findFloatTensor("step"), out, 7, 1), "actions_at past the in tensor refused")
	r.check(not unset.setup(cmd, ans, mem.findFloatTensor("step"), out, 4, 0), "step command 0 refused")

	var channels := {}
	for name in ["step", "reset", "half"]:
		var c := cStepChannel.new()
		r.check(c.setup(cmd, ans, mem.findFloatTensor(name), out, 4, 1), "setup on '%s'" % name)
		channels[name] = c
	r.check_eq(channels["step"].wait_step(actions), 1 + 256 * 4, "a STEP: command + 256 * flags")
	r.check_eq(alias, PackedFloat32Array([0.5, 0.25]), "its actions read into the caller's array in place")
	r.check_eq(channels["reset"].wait_step(actions), -2, "another command: -2, the caller reads the header")
	r.check_eq(channels["half"].wait_step(actions), -2, "flags that are not a whole number: -2")
	var three := PackedFloat32Array([7.0, 7.0, 7.0])
	r.check_eq(channels["step"].wait_step(three), -2, "more actions than the in tensor holds: -2")
	r.check_eq(alias, PackedFloat32Array([0.5, 0.25]), "nothing read for those")
	r.check_eq(three, PackedFloat32Array([7.0, 7.0, 7.0]), "nor into the too-large array")
	r.check(not channels["step"].answer(PackedFloat32Array([1.0])), "an answer of the wrong length refused")
	r.check(channels["step"].answer(PackedFloat32Array([1.0, 2.0, 3.0])), "the answer written and posted")
	r.finish(self)
