## Render-and-read-back benchmark scene: N camera agents (CameraSensor3D, W×H RGB) in a low-poly
## unshaded 3D scene. User args: JSON {"agents", "w", "h", "mode", "frames", "warmup"}.
##   mode "engine":   times `frames` frames in the engine, three ways: rendering only, rendering
##                    + reading every camera back (capture), and capture + write into a uint8
##                    tensor when a --handle is given (and the time of that one copy alone).
##                    Prints RESULT lines.
##   mode "lockstep": serves the host: waits "act", renders one frame, writes every camera into
##                    "frames" (N, H, W, 3), posts "obs"; stops when "ctl"[0] is 1. Posts "obs"
##                    once at start, when the first frame is ready.
extends SceneTree

const Report := preload("res://lib/report.gd")

var _sensors: Array = []
var _pivots: Array[Node3D] = []


func _initialize() -> void:
	var r := Report.new()
	var spec: Dictionary = JSON.parse_string(OS.get_cmdline_user_args()[-1])
	_build(int(spec["agents"]), int(spec["w"]), int(spec["h"]))
	for i in int(spec["warmup"]):
		await RenderingServer.frame_post_draw
	if spec["mode"] == "engine":
		await _bench_in_engine(r, int(spec["frames"]))
	else:
		await _serve_lockstep(r)
	r.finish(self)


func _build(agents: int, w: int, h: int) -> void:
	var world := Node3D.new()
	root.add_child(world)
	var env := Environment.new()
	env.background_mode = Environment.BG_COLOR
	env.background_color = Color(0.2, 0.3, 0.4)
	var colors := [Color.RED, Color.GREEN, Color.BLUE, Color.YELLOW, Color.MAGENTA]
	for k in 5:  # five low-poly unshaded boxes in a ring, and a floor
		var box := MeshInstance3D.new()
		box.mesh = BoxMesh.new()
		var mat := StandardMaterial3D.new()
		mat.shading_mode = BaseMaterial3D.SHADING_MODE_UNSHADED
		mat.albedo_color = colors[k]
		box.mesh.material = mat
		box.position = Vector3(cos(k * TAU / 5) * 3.0, 0.5, sin(k * TAU / 5) * 3.0)
		world.add_child(box)
	var floor_mesh := MeshInstance3D.new()
	floor_mesh.mesh = PlaneMesh.new()
	floor_mesh.mesh.size = Vector2(20, 20)
	var floor_mat := StandardMaterial3D.new()
	floor_mat.shading_mode = BaseMaterial3D.SHADING_MODE_UNSHADED
	floor_mat.albedo_color = Color(0.5, 0.5, 0.5)
	floor_mesh.mesh.material = floor_mat
	world.add_child(floor_mesh)
	for i in agents:
		var pivot := Node3D.new()
		pivot.rotation.y = i * TAU / agents
		world.add_child(pivot)
		var cam := CameraSensor3D.new()
		cam.width = w
		cam.height = h
		cam.environment = env
		cam.position = Vector3(0, 1.0, 0)
		pivot.add_child(cam)
		_sensors.append(cam)
		_pivots.append(pivot)


func _turn() -> void:  # the agents move every frame, so every frame is a new picture
	for p in _pivots:
		p.rotation.y += 0.01


func _bench_in_engine(r: Report, frames: int) -> void:
	var t0 := Time.get_ticks_usec()
	for f in frames:
		_turn()
		await RenderingServer.frame_post_draw
	var render_only := Time.get_ticks_usec() - t0
	var bytes := 0
	t0 = Time.get_ticks_usec()
	for f in frames:
		_turn()
		await RenderingServer.frame_post_draw
		for s in _sensors:
			bytes += s.capture().size()
	var with_capture := Time.get_ticks_usec() - t0
	r.check(bytes == frames * _sensors.size() * _sensors[0].get_size(), "every capture had H*W*3 bytes")
	r.result("render_only_s", render_only / 1e6)
	r.result("capture_s", with_capture / 1e6)
	var mem := cSharedMemory.new()
	if mem.exists():
		var frames_t: cPersistentUintTensor = mem.findUintTensor("frames")
		var batch := CameraBatch.new()
		t0 = Time.get_ticks_usec()
		for f in frames:
			_turn()
			await RenderingServer.frame_post_draw
			batch.write_frames(_sensors, frames_t)
		r.result("tensor_s", (Time.get_ticks_usec() - t0) / 1e6)
		r.result("copy_s", await _copy_time(frames_t, frames) / 1e6)


## Microseconds spent over `frames` frames in the engine's one copy of every camera's read-back
## into the tensor (write_pixels_at), apart from rendering and reading back.
func _copy_time(frames_t: cPersistentUintTensor, frames: int) -> int:
	var spent := 0
	for f in frames:
		_turn()
		await RenderingServer.frame_post_draw
		var at := 0
		for s in _sensors:
			var image: Image = s.get_viewport_node().get_texture().get_image()
			var source := 4 if image.get_format() == Image.FORMAT_RGBA8 else 3
			var data := image.get_data()
			var t := Time.get_ticks_usec()
			frames_t.write_pixels_at(at, data, source, 3)
			spent += Time.get_ticks_usec() - t
			at += s.get_size()
	return spent


func _serve_lockstep(r: Report) -> void:
	var mem := cSharedMemory.new()
	var frames_t: cPersistentUintTensor = mem.findUintTensor("frames")
	var ctl: cPersistentIntTensor = mem.findIntTensor("ctl")
	var act := cSharedMemorySemaphore.new()
	var obs := cSharedMemorySemaphore.new()
	r.check(act.init("act") and obs.init("obs"), "semaphores attached")
	var batch := CameraBatch.new()
	obs.post()  # ready
	var steps := 0
	while act.wait():
		if ctl.read()[0] == 1:
			break
		_turn()
		await RenderingServer.frame_post_draw
		if not batch.write_frames(_sensors, frames_t):
			break
		obs.post()
		steps += 1
	r.result("steps", steps)
