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
