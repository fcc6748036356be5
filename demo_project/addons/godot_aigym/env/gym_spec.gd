## GymSpec: the space description a GymEnv publishes at start-up (docs/STEP_PROTOCOL.md,
## "Start-up"), built from the node's exported properties: the only place spaces are defined.
class_name GymSpec
extends RefCounted

const P := preload("gym_protocol.gd")


## What is wrong with the settings of `env` (a GymEnv), or "" (checked before anything is sized).
static func settings_error(env: Node) -> String:
	var err := enum_error("action_type", env.action_type, GymEnv.ActionType)
	if err == "":
		err = enum_error("step_mode", env.step_mode, GymEnv.StepMode)
	if err != "":
		return err
	if env.n_agents < 1 or env.n_agents > GymProtocol.MAX_AGENTS:
		return "n_agents must be 1..%d, got %d" % [GymProtocol.MAX_AGENTS, env.n_agents]
	if env.action_repeat < 1:
		return "action_repeat must be >= 1, got %d" % env.action_repeat
	if env.max_episode_steps < 0:
		return "max_episode_steps must be >= 0 (0: no limit), got %d" % env.max_episode_steps
	if env.observation_size < (0 if not env.observation_parts.is_empty() else 1):
		return "observation_size must be >= 1 (>= 0 with observation_parts)"
	if env.action_type != GymEnv.ActionType.MULTI_DISCRETE and env.action_size < 1:
		return "action_size must be >= 1"
	if env.action_type == GymEnv.ActionType.MULTI_DISCRETE:
		if env.action_nvec.is_empty():
			return "action_nvec must list the choices of each action dimension (MULTI_DISCRETE)"
		for k in env.action_nvec:
			if k < 1:
				return "action_nvec entries must be >= 1, got %s" % env.action_nvec
	if env.observation_low.size() not in [0, env.observation_size] or env.observation_high.size() not in [0, env.observation_size]:
		return "observation_low/high must be empty or have observation_size (%d) values" % env.observation_size
	if env.action_type == GymEnv.ActionType.BOX and (env.action_low.size() not in [0, env.action_size] or env.action_high.size() not in [0, env.action_size]):
		return "action_low/high must be empty or have action_size (%d) values" % env.action_size
	return spaces_bounds_error(env)


## What is wrong with the bounds of `node` (a GymEnv or a GymAgentGroup, sizes already checked), or
## "": a NaN bound became -3.4e38 in the space Python saw, and low > high was a gymnasium error.
static func spaces_bounds_error(node: Node) -> String:
	var err := bounds_error("observation", node.observation_low, node.observation_high)
	if err == "" and node.action_type == GymEnv.ActionType.BOX:
		err = bounds_error("action", node.action_low, node.action_high)
	return err


static func bounds_error(what: String, low: PackedFloat32Array, high: PackedFloat32Array) -> String:
	for j in maxi(low.size(), high.size()):
		for side in [["low", low], ["high", high]]:
			if j < side[1].size() and is_nan(side[1][j]):
				return "%s_%s[%d] is NaN (use INF / -INF for an unbounded value)" % [what, side[0], j]
		if j < low.size() and j < high.size() and low[j] > high[j]:
			return "%s_low[%d] = %s is above %s_high[%d] = %s" % [what, j, low[j], what, j, high[j]]
	return ""


## What is wrong with an enum property's `value`, or "": a scene file may hold any int for it, so
## it is checked before anything indexes by it ("action_type is 7, not one of BOX (0), ...").
static func enum_error(property: String, value: int, choices: Dictionary) -> String:
	if value in choices.values():
		return ""
	var names: Array[String] = []
	for key in choices:
		names.append("%s (%d)" % [key, choices[key]])
	return "%s is %d, not one of %s" % [property, value, ", ".join(names)]


## The description Python reads: protocol, spaces, sizes, episode settings of `env` (a GymEnv);
## `parts` (a GymObservationParts or null) adds the Dict observation's parts.
static func describe(env: Node, parts: RefCounted) -> Dictionary:
	var obs_low: Array = []
	var obs_high: Array = []
	for j in env.observation_size:
		obs_low.append(_json_bound(env.observation_low[j] if env.observation_low.size() > 0 else -INF))
		obs_high.append(_json_bound(env.observation_high[j] if env.observation_high.size() > 0 else INF))
	var action := {}
	if env.action_type == GymEnv.ActionType.DISCRETE:
		action = {"type": "discrete", "n": env.action_size}
	elif env.action_type == GymEnv.ActionType.MULTI_DISCRETE:
		action = {"type": "multi_discrete", "nvec": Array(env.action_nvec)}
	else:
		var lo: Array = []
		var hi: Array = []
		for j in env.action_size:
			lo.append(_json_bound(env.action_low[j] if env.action_low.size() > 0 else -1.0))
			hi.append(_json_bound(env.action_high[j] if env.action_high.size() > 0 else 1.0))
		action = {"type": "box", "shape": [env.action_size], "low": lo, "high": hi}
	var tree: SceneTree = env.get_tree()
	return {
		"protocol": P.NAME,
		"version": P.VERSION,
		"name": env.env_name if env.env_name != "" else str(env.name),
		"scene": tree.current_scene.scene_file_path if tree.current_scene else "",
		"n_agents": env.n_agents,
		"observation": _observation(env, parts, obs_low, obs_high),
		"action": action,
		"action_width": env.action_width,
		"max_episode_steps": env.max_episode_steps,
		"action_repeat": env.action_repeat,
		"physics_ticks_per_second": Engine.physics_ticks_per_second,
		"in_size": P.in_size(env.n_agents, env.action_width),
		"frame": GymFrame.shape(),
		"out_size": env.out.size(),
		"seed": env.rng.seed,
		"engine": Engine.get_version_info()["string"],
	}


static func _observation(env: Node, parts: RefCounted, low: Array, high: Array) -> Dictionary:
	var box := {"type": "box", "shape": [env.observation_size], "low": low, "high": high, "dtype": "float32"}
	if parts == null:
		return box
	var entries := []
	if env.observation_size > 0:
		entries.append(box.merged({"name": env.state_part, "kind": "box", "in_out": true}, true))
	entries.append_array(parts.spec_entries())
	return {"type": "dict", "parts": entries}


static func _json_bound(v: float):
	if is_inf(v) or is_nan(v):
		return null
	return v
