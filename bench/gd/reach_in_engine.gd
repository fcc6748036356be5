## In-engine render-and-read-back rate of the Reach scene itself (bench/bench_pixels.py): N reach
## agents (demo_project/envs/reach, as GymEnv instances them: 20 units apart), each frame every
## agent takes a random move and every camera is read back (capture), as the env does per step
## minus the step protocol. Run with --path demo_project -s <this file> -- --agents N --frames F
## --image-size S [--handle H: a chunk with the uint8 tensor "frames" of N x S x S x 3]. Prints
## "RESULT {json}" lines: capture_s (seconds for the frames), and with a handle copy_s (seconds
## spent over as many frames in the engine's one copy of every read-back into the tensor).
extends SceneTree


func _initialize() -> void:
	var args := GymArgs.parse()
	var n := GymArgs.int_value(args, "agents", 1)
	var frames := GymArgs.int_value(args, "frames", 100)
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
	for agent in agents:
		agent.reset_agent(rng)
	for i in 10:  # warm-up
		await RenderingServer.frame_post_draw
	var bytes := 0
	var t0 := Time.get_ticks_usec()
	for f in frames:
		for agent in agents:
			agent.apply_action(rng.randi_range(0, 4))
		await RenderingServer.frame_post_draw
		for agent in agents:
			bytes += agent.get_node("Body/Camera").capture().size()
	var spent := Time.get_ticks_usec() - t0
	print("RESULT ", JSON.stringify({"name": "capture_s", "value": spent / 1e6}))
	print("RESULT ", JSON.stringify({"name": "bytes", "value": bytes}))
	var mem := cSharedMemory.new()
	if mem.exists():
		print("RESULT ", JSON.stringify({"name": "copy_s", "value": await _copy_time(mem.findUintTensor("frames"), agents, frames, rng) / 1e6}))
	quit(0)


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
