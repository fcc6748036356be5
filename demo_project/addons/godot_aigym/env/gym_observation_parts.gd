## GymObservationParts: the named parts of a Dict observation space (docs/STEP_PROTOCOL.md,
## "Dict observations"). GymEnv.observation_parts maps part names to sensor nodes under every
## agent (CameraSensor2D/3D: uint8 images; RaycastSensor2D/3D: float32 boxes; DiscreteSensor: int32
## discrete or multi_discrete parts); the agent's
## get_observation() values, when observation_size > 0, are the float part `state_part` and
## travel in `out` as in a flat Box env. Every other part has tensors of its own (GymTransport).
##
## Images show the state after the step: the answer waits for the frame drawn after it
## (RenderingServer.frame_post_draw) with the physics servers paused for that frame, so the
## bodies do not move between the vector observations and the pixels. Per step: arrays laid out
## at set-up, no Dictionary lookup, no coroutine (a state the frame's signal finishes).
class_name GymObservationParts
extends RefCounted

const P := preload("gym_protocol.gd")

## One Dictionary per part carried in a tensor of its own:
## {name, kind ("image" | "box" | "discrete" | "multi_discrete"), shape (PackedInt32Array), sensors (Array,
## one per agent), size (per agent), space (discrete kinds: {"n"} or {"nvec"})}.
var parts: Array[Dictionary] = []
var has_images := false
## A step's answer is waiting for a frame to be drawn (GymEnv runs no command meanwhile).
var busy := false

var _buffers := {}  # part name -> PackedFloat32Array / PackedInt32Array of the last observation (not images:
# cameras write straight into their part tensor, one copy per frame)
var _measured: Array = []  # [name, kind, sensors, values per agent] of the parts that are not images
var _images: Array = []  # [name, sensors, bytes per agent, tensor, final tensor] of the images (at the first frame)
enum { _NONE, _FINAL, _ANSWER }
var _waiting := _NONE  # what the frame drawn next finishes: the final observations or the answer
var _connected := false  # to RenderingServer.frame_post_draw, at the first image observation
var _env: Node
var _transport: GymTransport


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
				return ("observation part '%s': %s is not a sensor (CameraSensor2D/3D, RaycastSensor2D/3D or "
						+ "DiscreteSensor: get_shape(), get_dtype() and capture() or measure())") % [part_name, sensor.get_path()]
			var s: PackedInt32Array = sensor.get_shape()
			if (s.is_empty() and k != "discrete") or s.has(0):
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
		var part := {"name": part_name, "kind": kind, "shape": shape, "sensors": sensors, "size": size}
		if kind == "discrete" or kind == "multi_discrete":
			var err := _discrete_space(part)
			if err:
				return err
		parts.append(part)
		if kind != "image":
			_measured.append([part_name, kind, sensors, size])
	return ""


## A discrete part's space, the same for every agent's sensor; "" or what is wrong.
func _discrete_space(part: Dictionary) -> String:
	var space: Dictionary = part["sensors"][0].get_space()
	for sensor in part["sensors"]:
		if sensor.get_space() != space:
			return "observation part '%s': %s declares %s, %s %s: every agent's must match" % [
					part["name"], sensor.name, sensor.get_space(), part["sensors"][0].name, space]
	var values: Array = [space.get("n", 0)] if part["kind"] == "discrete" else Array(space.get("nvec", []))
	if values.is_empty() or values.min() < 1:
		return "observation part '%s': %s declares %s (every n must be at least 1)" % [part["name"], part["sensors"][0].name, space]
	part["space"] = space
	return ""


func _kind_of(sensor: Node) -> String:
	if not (sensor.has_method("get_shape") and sensor.has_method("get_dtype")):
		return ""
	var dtype: String = sensor.get_dtype()
	if dtype == "uint8" and sensor.has_method("capture"):
		return "image"
	if dtype == "float32" and sensor.has_method("measure"):
		return "box"
	if dtype == "int32" and sensor.has_method("measure") and sensor.has_method("get_space"):
		return "multi_discrete" if sensor.get_space().has("nvec") else "discrete"
	return ""


## The spec's entries of these parts (after the `out` part, if any).
func spec_entries() -> Array:
	var out := []
	for part in parts:
		var e := {"name": part["name"], "kind": part["kind"], "shape": Array(part["shape"]), "in_out": false}
		if part["kind"] == "image":
			e.merge({"dtype": "uint8", "low": 0, "high": 255})
		elif part.has("space"):
			e.merge({"dtype": "int32"})
			e.merge(part["space"])
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


## After a step's ticks: finish it (GymEpisodes), observe every part (the answer waits for the
## frame when there are images), SAME_STEP autoreset with the parts' final observations, answer.
func finish_step(env: Node, transport: GymTransport, autoreset: int) -> void:
	var episodes: GymEpisodes = env.episodes
	var same := autoreset == P.AUTORESET_SAME_STEP
	episodes.finish_step(P.AUTORESET_NONE if same else autoreset)
	if env.has_failed():
		return
	busy = true
	_env = env
	_transport = transport
	_observe(_FINAL if same and episodes.any_done() else _ANSWER)  # final: to the final-observation tensors


## RESET: reset the agents of `mask` (GymEpisodes), observe every part, answer.
func reset(env: Node, transport: GymTransport, mask: PackedByteArray) -> void:
	env.episodes.reset(mask)
	if env.has_failed():
		return
	busy = true
	_env = env
	_transport = transport
	_observe(_ANSWER)


## Every part's observation for `stage`: float and discrete parts into _buffers now; images after
## the frame drawn next (_on_frame_drawn), with physics paused until then so the bodies do not
## move between the two. A state, not a coroutine: this runs on every step.
func _observe(stage: int) -> void:
	for m in _measured:  # [name, kind, sensors, values per agent]
		var values = PackedFloat32Array() if m[1] == "box" else PackedInt32Array()
		for sensor in m[2]:
			values.append_array(sensor.measure())
		if values.size() != m[3] * m[2].size():
			_env.fail("observation part '%s' gave %d values, its shape %s needs %d per agent (the sensor said why above)" % [
					m[0], values.size(), _shape_of(m[0]), m[3]])
			busy = false
			return
		_buffers[m[0]] = values
	if not has_images:
		_observed(stage)
		return
	if not _waiting:  # the frame drawn after this point shows the state now; physics waits for it
		PhysicsServer2D.set_active(false)
		PhysicsServer3D.set_active(false)
		if not _connected:
			_connected = true
			RenderingServer.frame_post_draw.connect(_on_frame_drawn)
	_waiting = stage


## After every drawn frame: the images of the observation waiting for it, then what follows.
func _on_frame_drawn() -> void:
	var stage := _waiting
	if stage == _NONE:
		return
	_waiting = _NONE
	if stage == _ANSWER:
		PhysicsServer2D.set_active(true)
		PhysicsServer3D.set_active(true)
	var final := stage == _FINAL
	if _images.is_empty():
		for part in parts:
			if part["kind"] == "image":  # [name, sensors, bytes per agent, tensor, final-observation tensor]
				_images.append([part["name"], part["sensors"], part["size"],
						_transport.part_tensor(part["name"], false), _transport.part_tensor(part["name"], true)])
	for image in _images:
		var tensor: cPersistentUintTensor = image[4] if final else image[3]
		var at := 0
		for sensor in image[1]:
			if not sensor.write_into(tensor, at):
				_env.fail("observation part '%s': %s could not write its %s frame (it said why above)" % [
						image[0], sensor.name, _shape_of(image[0])])
				busy = false
				return
			at += image[2]
	_observed(stage)


## The parts are observed: SAME_STEP's final observations go out and the finished agents restart
## (then their first observation is taken), or the answer goes out.
func _observed(stage: int) -> void:
	var transport := _transport
	if not transport.write_parts(_buffers, stage == _FINAL):
		_env.fail(transport.error)
		return
	if stage == _FINAL:
		_env.episodes.same_step_autoreset()
		if not _env.has_failed():
			_observe(_ANSWER)  # physics stays paused for the next frame
		return
	busy = false
	var channel := transport.channel
	if channel != null and transport.logged[0] == 0:
		channel.answer(_env.out)
	else:
		transport.answer(_env.out)  # also reports the errors logged meanwhile


func _shape_of(part_name: String) -> PackedInt32Array:
	for part in parts:
		if part["name"] == part_name:
			return part["shape"]
	return PackedInt32Array()
