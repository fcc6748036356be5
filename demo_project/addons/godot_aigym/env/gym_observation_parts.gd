## GymObservationParts: the named parts of a Dict observation space (docs/STEP_PROTOCOL.md,
## "Dict observations"). GymEnv.observation_parts maps part names to sensor nodes under every
## agent (CameraSensor2D/3D: uint8 images; RaycastSensor2D/3D: float32 boxes); the agent's
## get_observation() values, when observation_size > 0, are the float part `state_part` and
## travel in `out` as in a flat Box env. Every other part has tensors of its own (GymTransport).
##
## Images show the state after the step: the answer waits for the frame drawn after it
## (RenderingServer.frame_post_draw) with the physics servers paused for that frame, so the
## bodies do not move between the vector observations and the pixels.
class_name GymObservationParts
extends RefCounted

const P := preload("gym_protocol.gd")

## One Dictionary per part carried in a tensor of its own:
## {name, kind ("image" | "box"), shape (PackedInt32Array), sensors (Array, one per agent), size (per agent)}.
var parts: Array[Dictionary] = []
var has_images := false
## A step's answer is waiting for a frame to be drawn (GymEnv runs no command meanwhile).
var busy := false

var _buffers := {}  # part name -> PackedByteArray / PackedFloat32Array of the last observation


## Finds every part's sensor under every agent; "" or what is wrong (naming the part and the fix).
func setup(agents: Array[Node], paths: Dictionary) -> String:
	if agents.is_empty():
		return "observation_parts need agent nodes (agent_scene or agent children) that hold the sensors"
	for key in paths:
		var part_name := str(key)
		if not part_name.is_valid_identifier():
			return "observation part name '%s' must be a valid identifier (letters, digits, _)" % part_name
		var sensors: Array = []
		var shape := PackedInt32Array()
		var kind := ""
		for agent in agents:
			var sensor: Node = agent.get_node_or_null(NodePath(str(paths[key])))
			if sensor == null:
				return "observation part '%s': agent %s has no node at '%s'" % [part_name, agent.name, paths[key]]
			var k := _kind_of(sensor)
			if k == "":
				return ("observation part '%s': %s is not a sensor (CameraSensor2D/3D or RaycastSensor2D/3D: "
						+ "get_shape(), get_dtype() and capture() or measure())") % [part_name, sensor.get_path()]
			var s: PackedInt32Array = sensor.get_shape()
			if s.is_empty() or s.has(0):
				return "observation part '%s': %s declares the shape %s (fix its size)" % [part_name, sensor.name, s]
			if sensors.is_empty():
				shape = s
				kind = k
			elif s != shape or k != kind:
				return "observation part '%s': agent %s's sensor has shape %s, agent %s's %s: every agent's must match" % [
						part_name, agent.name, s, agents[0].name, shape]
			sensors.append(sensor)
		if kind == "image":
			has_images = true
			if DisplayServer.get_name() == "headless":
				return ("observation part '%s' is an image, but this engine runs --headless and renders nothing: "
						+ "create the env with rendering=True (see docs/RENDERING.md)") % part_name
		var size := 1
		for d in shape:
			size *= d
		parts.append({"name": part_name, "kind": kind, "shape": shape, "sensors": sensors, "size": size})
	return ""


func _kind_of(sensor: Node) -> String:
	if not (sensor.has_method("get_shape") and sensor.has_method("get_dtype")):
		return ""
	var dtype: String = sensor.get_dtype()
	if dtype == "uint8" and sensor.has_method("capture"):
		return "image"
	if dtype == "float32" and sensor.has_method("measure"):
		return "box"
	return ""


## The spec's entries of these parts (after the `out` part, if any).
func spec_entries() -> Array:
	var out := []
	for part in parts:
		var e := {"name": part["name"], "kind": part["kind"], "shape": Array(part["shape"]), "in_out": false}
		if part["kind"] == "image":
			e.merge({"dtype": "uint8", "low": 0, "high": 255})
		else:
			e.merge({"dtype": "float32", "low": null, "high": null})
		out.append(e)
	return out


## (name, kind, total size over the agents) of every part, for GymTransport's tensors.
func tensor_sizes() -> Array:
	var out := []
	for part in parts:
		out.append([part["name"], part["kind"], part["size"] * part["sensors"].size()])
	return out


## After a step's ticks: finish it (GymEpisodes), observe every part (waiting for the frame when
## there are images), SAME_STEP autoreset with the parts' final observations, answer.
func finish_step(env: Node, transport: GymTransport, autoreset: int) -> void:
	var episodes: GymEpisodes = env.episodes
	var same := autoreset == P.AUTORESET_SAME_STEP
	episodes.finish_step(P.AUTORESET_NONE if same else autoreset)
	if env.has_failed():
		return
	busy = true
	if not await _observe(env):
		return
	if same and episodes.any_done():
		if not transport.write_parts(_buffers, true):
			env.fail(transport.error)
			return
		episodes.same_step_autoreset()
		if env.has_failed() or not await _observe(env):
			return
	_answer(env, transport)


## RESET: reset the agents of `mask` (GymEpisodes), observe every part, answer.
func reset(env: Node, transport: GymTransport, mask: PackedByteArray) -> void:
	env.episodes.reset(mask)
	if env.has_failed():
		return
	busy = true
	if await _observe(env):
		_answer(env, transport)


func _answer(env: Node, transport: GymTransport) -> void:
	busy = false
	if not transport.write_parts(_buffers, false):
		env.fail(transport.error)
		return
	transport.answer(env.out)


## Every part's observation into _buffers; false (after env.fail) when a sensor had none.
func _observe(env: Node) -> bool:
	for part in parts:
		if part["kind"] == "box":
			var values := PackedFloat32Array()
			for sensor in part["sensors"]:
				values.append_array(sensor.measure())
			_buffers[part["name"]] = values
	if has_images:
		# the frame drawn after this point shows the state now; physics waits for it
		PhysicsServer2D.set_active(false)
		PhysicsServer3D.set_active(false)
		await RenderingServer.frame_post_draw
		PhysicsServer2D.set_active(true)
		PhysicsServer3D.set_active(true)
		for part in parts:
			if part["kind"] != "image":
				continue
			var frames := PackedByteArray()
			for sensor in part["sensors"]:
				var frame: PackedByteArray = sensor.capture()
				if frame.size() != part["size"]:
					env.fail("observation part '%s': %s gave %d bytes, its shape %s needs %d (the sensor said why above)" % [
							part["name"], sensor.name, frame.size(), part["shape"], part["size"]])
					busy = false
					return false
				frames.append_array(frame)
			_buffers[part["name"]] = frames
	return true
