## In-engine render-and-read-back rate of the Reach scene itself (bench/bench_pixels.py): N reach
## agents (demo_project/envs/reach, as GymEnv instances them: 20 units apart). Each frame every
## agent takes a random move, one frame is drawn, and every camera is read back and copied once
## into its slice of the uint8 tensor "frames" (CameraSensor3D.write_into, as the env does per step):
## the env's work per image minus the step protocol. With --episode-steps N (the bench passes the
## scene's max_episode_steps) an agent restarts as GymEnv's autoreset restarts it: the frame after it
## reached its tile or made N moves shows it reset instead of moved. Without restarts the agents
## drift to the arena's edges, where their cameras see less floor (20.7 vs 14.7 % sky pixels) and
## a frame costs llvmpipe less: that baseline drew cheaper frames than the env's (docs/RENDERING.md).
## Run with --path demo_project -s <this file> -- --agents N --image-size S --handle H (a chunk with
## the uint8 tensor "frames" of N x S x S x 3, the int32 tensor "window" [mode, frames] and the
## semaphores "ready", posted after the warm-up, "go" and "done").
## Measured in windows the host starts, so that it can alternate them with windows of the env
## (paired windows: both sides under the same machine): per "go" the engine reads "window":
##   mode 0 (free): `frames` frames as fast as it can, then posts "done";
##   mode 1 (lockstep): every frame posts "done" once its images are in the tensor and the next
##       one waits for "go": the host steps several engines as a vector env does, nothing else of
##       the step protocol;
##   mode -1: the measurements end: the copy is timed, results printed, the engine quits.
## Prints "RESULT {json}" lines: windows (per window: start_unix / end_unix, when its frames began
## and ended, frame_ends, when each frame was in the tensor, bytes written), copy_s (seconds spent,
## over --copy-frames frames, in the engine's one copy of every read-back into the tensor).
extends SceneTree

const GO_TIMEOUT_MS := 300000  # only when the host is broken

var _episode_steps := 0  # > 0: an agent restarts once it reached its tile or made this many moves
var _moves := PackedInt32Array()  # per agent, since its last restart


func _initialize() -> void:
	var args := GymArgs.parse()
	var n := GymArgs.int_value(args, "agents", 1)
	var copy_frames := GymArgs.int_value(args, "copy-frames", 60)
	_episode_steps = GymArgs.int_value(args, "episode-steps", 0)
	var mem := cSharedMemory.new()
	if not mem.exists():
		push_error("reach_in_engine.gd needs --handle (a chunk with 'frames', 'window', 'ready', 'go', 'done')")
		quit(1)
		return
	var tensor := mem.findUintTensor("frames")
	var window := mem.findIntTensor("window")
	var ready := mem.findSemaphore("ready")
	var go := mem.findSemaphore("go")
	var done := mem.findSemaphore("done")
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
	var windows := []
	while true:
		if not go.timed_wait(GO_TIMEOUT_MS):
			push_error("reach_in_engine.gd: the host never said go")
			quit(1)
			return
		var spec := window.read()
		if spec[0] < 0:
			break
		var lockstep: bool = spec[0] == 1
		var frame_ends := PackedFloat64Array()  # unix time each measured frame was in the tensor
		var bytes := 0
		var start_unix := Time.get_unix_time_from_system()
		for f in spec[1]:
			if lockstep and f > 0 and not go.timed_wait(GO_TIMEOUT_MS):
				quit(1)
				return
			await _next_frame(agents, rng)
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
		windows.append({"start_unix": start_unix, "end_unix": Time.get_unix_time_from_system(),
			"frame_ends": Array(frame_ends), "bytes": bytes})
		if not lockstep:
			done.post()
	_result("windows", windows)
	_result("copy_s", await _copy_time(tensor, agents, copy_frames, rng) / 1e6)
	quit(0)


## Every agent's next random action, then the frame drawn with them.
func _next_frame(agents: Array, rng: RandomNumberGenerator) -> void:
	if _episode_steps <= 0:
		for agent in agents:
			agent.apply_action(rng.randi_range(0, 4))
		await RenderingServer.frame_post_draw
		return
	_moves.resize(agents.size())  # zeros at first
	for i in agents.size():
		var agent = agents[i]
		if agent.is_terminated() or _moves[i] >= _episode_steps:  # as NEXT_STEP autoreset: reset, no move
			agent.reset_agent(rng)
			_moves[i] = 0
		else:
			agent.apply_action(rng.randi_range(0, 4))
			_moves[i] += 1
	await RenderingServer.frame_post_draw


func _result(name: String, value: Variant) -> void:
	print("RESULT ", JSON.stringify({"name": name, "value": value}, "", true, true))


## Microseconds of the one copy per camera (write_pixels_at, as CameraSensor3D.write_into does
## after its read-back) over `frames` frames.
func _copy_time(tensor: cPersistentUintTensor, agents: Array, frames: int, rng: RandomNumberGenerator) -> int:
	var spent := 0
	for f in frames:
		await _next_frame(agents, rng)
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
