## In-engine render-and-read-back rate of the Reach scene itself (bench/bench_pixels.py): N reach
## agents (demo_project/envs/reach, as GymEnv instances them: 20 units apart). Each frame every
## agent takes a random move, one frame is drawn, and every camera is read back and copied once
## into its slice of the uint8 tensor "frames" (CameraSensor3D.write_into, as the env does per step):
## the env's work per image minus the step protocol.
## Run with --path demo_project -s <this file> -- --agents N --frames F --image-size S --handle H
## (a chunk with the uint8 tensor "frames" of N x S x S x 3 and the semaphores "ready", posted after
## the warm-up, and "go": the loop starts when the host posts it, so it can start engines together).
## With --lockstep (and a semaphore "done" in the chunk) every frame also waits for "go" and posts
## "done" once its images are in the tensor: the host steps several engines in lockstep as a vector
## env does, with nothing else of the step protocol.
## Prints "RESULT {json}" lines: capture_s (seconds for the frames), start_unix / end_unix (when
## the measured frames began and ended), frame_ends (when each frame was in the tensor: the
## host counts the frames of every engine while all of them ran), bytes (written),
## thread_ns (per thread: [ns on a CPU, ns waiting for one] over the frames), copy_s (seconds
## spent, over as many frames again, in the engine's one copy of every read-back into the tensor).
extends SceneTree

const GO_TIMEOUT_MS := 300000  # only when the host is broken


func _initialize() -> void:
	var args := GymArgs.parse()
	var n := GymArgs.int_value(args, "agents", 1)
	var frames := GymArgs.int_value(args, "frames", 100)
	var mem := cSharedMemory.new()
	if not mem.exists():
		push_error("reach_in_engine.gd needs --handle (a chunk with the tensor 'frames' and the semaphores 'ready', 'go')")
		quit(1)
		return
	var tensor := mem.findUintTensor("frames")
	var ready := mem.findSemaphore("ready")
	var go := mem.findSemaphore("go")
	var lockstep := args.has("lockstep")
	var done: cSharedMemorySemaphore = mem.findSemaphore("done") if lockstep else null
	var world := Node3D.new()
	root.add_child(world)
	var agents: Array = []
	var scene: PackedScene = load("res://envs/reach/reach_agent.tscn")
	var rng := RandomNumberGenerator.new()
	rng.seed = 0
	for i in n:
		var agent: Node3D = scene.instantiate()
		agent.position = Vector3(20.0 * i, 0, 0)
		world.add_child(agent)
		agents.append(agent)
	await process_frame  # the agents are ready
	OffscreenWindow.stop_drawing(self)  # as GymEnv does on the host's private X server
	for agent in agents:
		agent.reset_agent(rng)
	for i in 10:  # warm-up
		await RenderingServer.frame_post_draw
	ready.post()
	if not go.timed_wait(GO_TIMEOUT_MS):
		push_error("reach_in_engine.gd: the host never said go")
		quit(1)
		return
	var bytes := 0
	var frame_ends := PackedFloat64Array()  # unix time each measured frame was in the tensor
	var threads0 := _thread_times()
	var start_unix := Time.get_unix_time_from_system()
	var t0 := Time.get_ticks_usec()
	for f in frames:
		if lockstep and f > 0 and not go.timed_wait(GO_TIMEOUT_MS):
			quit(1)
			return
		for agent in agents:
			agent.apply_action(rng.randi_range(0, 4))
		await RenderingServer.frame_post_draw
		var at := 0
		for agent in agents:
			var camera: CameraSensor3D = agent.get_node("Body/Camera")
			if not camera.write_into(tensor, at):
				quit(1)
				return
			at += camera.get_size()
		bytes += at
		frame_ends.append(Time.get_unix_time_from_system())
		if lockstep:
			done.post()
	var spent := Time.get_ticks_usec() - t0
	var end_unix := Time.get_unix_time_from_system()
	var threads1 := _thread_times()
	var per_thread := {}
	for tid in threads1:
		if threads0.has(tid):
			per_thread[tid] = [threads1[tid][0] - threads0[tid][0], threads1[tid][1] - threads0[tid][1]]
	_result("capture_s", spent / 1e6)
	_result("start_unix", start_unix)
	_result("end_unix", end_unix)
	_result("frame_ends", Array(frame_ends))
	_result("bytes", bytes)
	_result("thread_ns", per_thread)
	_result("copy_s", await _copy_time(tensor, agents, frames, rng) / 1e6)
	quit(0)


func _result(name: String, value: Variant) -> void:
	print("RESULT ", JSON.stringify({"name": name, "value": value}, "", true, true))


## Microseconds of the one copy per camera (write_pixels_at, as CameraSensor3D.write_into does
## after its read-back) over `frames` frames.
func _copy_time(tensor: cPersistentUintTensor, agents: Array, frames: int, rng: RandomNumberGenerator) -> int:
	var spent := 0
	for f in frames:
		for agent in agents:
			agent.apply_action(rng.randi_range(0, 4))
		await RenderingServer.frame_post_draw
		var at := 0
		for agent in agents:
			var camera: CameraSensor3D = agent.get_node("Body/Camera")
			var image: Image = camera.get_viewport_node().get_texture().get_image()
			var source := 4 if image.get_format() == Image.FORMAT_RGBA8 else 3
			var data := image.get_data()
			var t := Time.get_ticks_usec()
			if not tensor.write_pixels_at(at, data, source, 3):
				quit(1)
			spent += Time.get_ticks_usec() - t
			at += camera.get_size()
	return spent


## Per thread of this process: [ns on a CPU, ns waiting for one] (/proc/self/task/*/schedstat).
func _thread_times() -> Dictionary:
	var out := {}
	for tid in DirAccess.get_directories_at("/proc/self/task"):
		var f := FileAccess.open("/proc/self/task/%s/schedstat" % tid, FileAccess.READ)
		var fields := f.get_line().split(" ") if f else PackedStringArray()
		if fields.size() >= 2:
			out[tid] = [int(fields[0]), int(fields[1])]
	return out
