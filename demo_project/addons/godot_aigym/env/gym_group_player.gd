## GymGroupPlayer: play mode of a GymGroupEnv: each agent group runs its own TorchScript policy
## (its GymAgentGroup.policy_path, or --policy "<group>=PATH,<group>=PATH") through cTorchModel,
## one batched run_batch per group and step. Episodes are handed out by quota over all agents, as
## in GymPlayer; the result adds each group's returns ("group_returns", "group_mean_return").
class_name GymGroupPlayer
extends GymPlayer

var _models := {}  # group id -> cTorchModel
var _paths := {}  # group id -> policy path
var _return_groups := PackedStringArray()  # the group of each entry of _returns


func start(env: Node, random: bool) -> String:
	_env = env
	_random = random
	if random:
		return ""
	var given := {}
	for pair in str(env.policy_path).split(",", false):
		if not pair.contains("="):
			return "--policy must map groups to policies, '<group>=PATH,<group>=PATH'; got '%s'" % env.policy_path
		var gid := pair.get_slice("=", 0).strip_edges()
		if env.group(gid) == null:
			return "--policy names the group '%s', which this scene does not have (groups: %s)" % [gid, _group_ids()]
		if given.has(gid):  # the last one won, silently
			return "--policy names the group '%s' twice; give each group one policy" % gid
		given[gid] = pair.substr(pair.find("=") + 1).strip_edges()
	if not ClassDB.class_exists(&"cTorchModel"):
		return "play mode needs cTorchModel (the godot_aigym_torch library is not loaded)"
	for g: GymAgentGroup in env.groups:
		var path: String = given.get(g.id(), g.policy_path)
		if path == "":
			return "agent group '%s' has no policy: set its policy_path or pass --policy %s=PATH" % [g.id(), g.id()]
		var err := _load(g, path)
		if err != "":
			return err
	print("AIGYM_PLAY_START " + JSON.stringify({"policies": _paths, "agents": env.n_agents,
			"episodes": env.play_episodes, "seed": env.initial_seed}))
	return ""


func _load(g: GymAgentGroup, path: String) -> String:
	var what := "agent group '%s'" % g.id()
	if not ResourceLoader.exists(path) and FileAccess.file_exists(path):
		return "%s: the policy %s is not a .jit file: Godot loads TorchScript policies from files named *.jit" % [what, path]
	if not ResourceLoader.exists(path):
		return "%s: policy not found: %s" % [what, path]
	var data = load(path)
	if data == null:
		return "%s: could not load the policy %s" % [what, path]
	var model = _open_policy(data, path, PackedInt32Array([g.observation_size]), g.observation_size,
			"the group observes %d" % g.observation_size, g.policy_outputs(), "the group's action space")
	if model is String:
		return "%s: %s" % [what, model]
	_models[g.id()] = model
	_paths[g.id()] = path
	return ""


func _group_ids() -> String:
	var ids := PackedStringArray()
	for g: GymAgentGroup in _env.groups:
		ids.append(g.id())
	return ", ".join(ids)


## Every group's actions into env.actions (rows of env.action_width floats): its policy, or random.
func _choose_actions() -> bool:
	var env := _env
	var w: int = env.action_width
	var d: int = env.obs_dim
	var actions: PackedFloat32Array = env.actions
	for g: GymAgentGroup in env.groups:
		var n := g.n_agents
		var y := PackedFloat32Array()
		var k_out := 0
		if not _random:
			var x := PackedFloat32Array()
			if g.observation_size == d:
				x = env.out.slice(g.offset * d, (g.offset + n) * d)
			else:
				for i in n:
					x.append_array(env.out.slice((g.offset + i) * d, (g.offset + i) * d + g.observation_size))
			y = _models[g.id()].call(&"run_batch", x, n)
			k_out = y.size() / n
			if k_out != g.policy_outputs():
				env.fail("agent group '%s': the policy %s returned %d values per observation; the action space needs %d" % [
						g.id(), _paths[g.id()], k_out, g.policy_outputs()])
				return false
		for i in n:
			var row := (g.offset + i) * w
			var base := i * k_out
			if g.action_type == GymEnv.ActionType.DISCRETE:
				actions[row] = env.rng.randi_range(0, g.action_size - 1) if _random else _argmax(y, base, k_out)
			elif g.action_type == GymEnv.ActionType.MULTI_DISCRETE:
				for j in g.action_width:
					actions[row + j] = env.rng.randi_range(0, g.action_nvec[j] - 1) if _random else _argmax(y, base, g.action_nvec[j])
					base += g.action_nvec[j]
			else:
				for j in g.action_width:
					var lo := g.bound_value(g.action_low, j, -1.0)
					var hi := g.bound_value(g.action_high, j, 1.0)
					actions[row + j] = env.rng.randf_range(lo, hi) if _random else clampf(y[base + j], lo, hi)
	return true


## Remembers the group of each finished episode (GymPlayer._finish_step calls it).
func _episode_ended(agent: int) -> void:
	_return_groups.append(_env.group_of(agent).id())


func _report() -> void:
	var by_group := {}
	for g: GymAgentGroup in _env.groups:
		by_group[g.id()] = []
	for k in mini(_returns.size(), _return_groups.size()):
		by_group[_return_groups[k]].append(_returns[k])
	var means := {}
	for gid in by_group:
		var total := 0.0
		for r in by_group[gid]:
			total += r
		means[gid] = total / maxi(1, by_group[gid].size())
	print("AIGYM_PLAY_GROUPS " + JSON.stringify({"group_returns": by_group, "group_mean_return": means, "policies": _paths}))
	super._report()
