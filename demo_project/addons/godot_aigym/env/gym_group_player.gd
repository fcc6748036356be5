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
	if not ResourceLoader.exists(path):
		return "%s: policy not found: %s" % [what, path]
	var data = load(path)
	if data == null:
		return "%s: could not load the policy %s" % [what, path]
	var model: Object = ClassDB.instantiate(&"cTorchModel")
	model.call(&"set_data", data)
	var in_size: int = model.call(&"get_input_size")
	if in_size < 0:
		model.call(&"set_input_shape", PackedInt32Array([g.observation_size]))
	elif in_size != g.observation_size:
		return "%s: the policy %s takes %d values per observation; the group observes %d" % [what, path, in_size, g.observation_size]
	if not model.call(&"warmup"):
		return "%s: the policy %s does not run (see the errors above)" % [what, path]
	var out_size: int = model.call(&"get_output_size")
	if out_size > 0 and out_size != g.policy_outputs():
		return "%s: the policy %s outputs %d values per observation; the group's action space needs %d" % [
				what, path, out_size, g.policy_outputs()]
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


## GymPlayer._finish_step, remembering the group of each finished episode.
func _finish_step() -> void:
	var env := _env
	var episodes: GymEpisodes = env.episodes
	episodes.finish_step(P.AUTORESET_NONE)
	if env.has_failed():
		_done = true
		return
	_add_checksum()
	if episodes.done(0):
		_checksum_open = false
	var out: PackedFloat32Array = env.out
	var restart := []
	for i in env.n_agents:
		if _active[i] == 0:
			continue
		_ep_return[i] += out[env.reward_offset + i]
		if episodes.done(i):
			_returns.append(_ep_return[i])
			_return_groups.append(env.group_of(i).id())
			_lengths.append(episodes.steps[i])
			_ep_return[i] = 0.0
			if not _random and _returns.size() >= env.play_episodes:
				_report()
				return
			if _random or _episodes_started < env.play_episodes:
				_episodes_started += 1
				restart.append(i)
			else:
				_active[i] = 0
	if not restart.is_empty():
		for i in restart:
			episodes.restart(i)
		env._gym_observe()


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
