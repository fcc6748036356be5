## The agent nodes of a GymEnv or a GymAgentGroup: instances of an agent scene, or the children
## that implement the agent callbacks (one way to find them for both).
extends RefCounted

## The callbacks every agent node implements (gym_env.gd describes them).
const CALLBACKS := ["reset_agent", "apply_action", "get_observation", "get_reward", "is_terminated"]


## `n` instances of `scene` added to `parent` (named `prefix` + index, `spacing` apart for
## Node2D/Node3D agents); without a scene, the children of `parent` that have get_observation().
static func collect(parent: Node, scene: PackedScene, n: int, prefix: String, spacing: Vector2) -> Array[Node]:
	var found: Array[Node] = []
	if scene != null:
		for i in n:
			var agent := scene.instantiate()
			agent.name = "%s%d" % [prefix, i]
			if agent is Node2D:
				agent.position += spacing * i
			elif agent is Node3D:
				agent.position += Vector3(spacing.x, spacing.y, 0.0) * i
			parent.add_child(agent)
			found.append(agent)
	else:
		for child in parent.get_children():
			if child.has_method("get_observation"):
				found.append(child)
	return found


## The CALLBACKS `agent` does not implement.
static func missing_callbacks(agent: Node) -> PackedStringArray:
	var missing := PackedStringArray()
	for m in CALLBACKS:
		if not agent.has_method(m):
			missing.append(m)
	return missing


## What is wrong with `agent`'s first answers ("" if nothing): get_observation()'s value `o` must be
## `size` numbers (a packed array or an Array of int/float/bool), get_reward() a number. Checked on
## the first observation only, so that a callback's mistake is named instead of an error in the
## addon's copy loop ("Nonexistent function 'size' in base 'Nil'" at gym_env.gd).
static func answer_error(agent: Node, o: Variant, size: int, space: String) -> String:
	var t := typeof(o)
	if t not in [TYPE_PACKED_FLOAT32_ARRAY, TYPE_PACKED_FLOAT64_ARRAY, TYPE_PACKED_INT32_ARRAY,
			TYPE_PACKED_INT64_ARRAY, TYPE_PACKED_BYTE_ARRAY, TYPE_ARRAY]:
		return "%s.get_observation() returned %s (%s), not an array of %d numbers (a PackedFloat32Array)" % [
				agent.name, var_to_str(o).left(80), type_string(t), size]
	if o.size() != size:
		return "%s.get_observation() returned %d values, %s %d" % [agent.name, o.size(), space, size]
	if t == TYPE_ARRAY:
		for j in o.size():
			if typeof(o[j]) not in [TYPE_FLOAT, TYPE_INT, TYPE_BOOL]:
				return "%s.get_observation() value %d is %s (%s), not a number" % [agent.name, j, var_to_str(o[j]).left(80), type_string(typeof(o[j]))]
	var r: Variant = agent.get_reward()
	if typeof(r) not in [TYPE_FLOAT, TYPE_INT, TYPE_BOOL]:
		return "%s.get_reward() returned %s (%s), not a number" % [agent.name, var_to_str(r).left(80), type_string(typeof(r))]
	return ""
