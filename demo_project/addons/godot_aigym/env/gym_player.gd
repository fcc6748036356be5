## GymPlayer: runs a GymEnv without Python. PLAY: a TorchScript policy through cTorchModel (one
## batched run_batch per step for all agents), `play_episodes` episodes handed out by quota, then
## "AIGYM_PLAY_RESULT {json}" and quit. RANDOM: random actions with resets, to watch a scene.
class_name GymPlayer
extends RefCounted

const P := preload("gym_protocol.gd")

var _env: Node  # the GymEnv
var _random := false
var _model: Object = null
var _model_outputs := 0  # values the policy must output per observation
var _started := false
var _done := false
var _ep_return := PackedFloat64Array()
var _active := PackedByteArray()
var _returns: Array[float] = []
var _lengths: Array[int] = []
var _episodes_started := 0
var _t0 := 0
var _steps := 0
var _repeat_left := 0
var _checksum := 0.0  # sum of agent 0's observations over its first episode (compare with Python)
var _checksum_open := true
var _image := {}  # the image part fed to the policy (GymObservationParts), if any
var _dict_input: GymDictInput = null  # a Dict without images: SB3's flat encoding (gym_dict_input.gd)
var _pixels := PackedFloat32Array()


## Loads the policy (PLAY) or prepares random play; "" or what is wrong.
func start(env: Node, random: bool) -> String:
	_env = env
	_random = random
	if random:
		return ""
	var policy_path: String = env.policy_path
	var obs_dim: int = env.obs_dim
	var what := "the observation space has %d" % obs_dim
	var dict_parts: GymObservationParts = env.get_dict_parts()
	if dict_parts != null and not dict_parts.has_images:
		_dict_input = GymDictInput.new()
		var err := _dict_input.setup(env, dict_parts.parts)
		if err:
			return err
		obs_dim = _dict_input.size
		what = "the Dict parts %s encode to %d (SB3's MultiInputPolicy encoding; docs/ENVIRONMENTS.md)" % [
				_dict_input.describe(), obs_dim]
	elif dict_parts != null:
		var parts: Array = dict_parts.parts
		if parts.size() != 1 or parts[0]["kind"] != "image" or obs_dim != 0:
			return ("play mode feeds cTorchModel one image part (observation_size 0); this env has the parts %s "
					+ "and %d state values: run the policy from Python") % [str(env.observation_parts.keys()), obs_dim]
		if env.step_mode != GymEnv.StepMode.IMMEDIATE:
			return "play mode from images needs step_mode IMMEDIATE (the frame drawn after a step is read at the next one)"
		_image = parts[0]
		obs_dim = _image["size"]
		what = "the image part '%s' of shape %s has %d" % [_image["name"], str(_image["shape"]), obs_dim]
	if not ClassDB.class_exists(&"cTorchModel"):
		return "play mode needs cTorchModel (the godot_aigym_torch library is not loaded)"
	if not ResourceLoader.exists(policy_path) and FileAccess.file_exists(policy_path):
		return "the policy %s is not a .jit file: Godot loads TorchScript policies from files named *.jit (save it as policy.jit)" % policy_path
	if not ResourceLoader.exists(policy_path):
		return "policy not found: no file %s (--policy or the GymEnv's policy_path must name a TorchScript policy, e.g. one saved by godot_aigym.torch_export.export_policy)" % policy_path
	var data = load(policy_path)
	if data == null:
		return "could not load the policy %s" % policy_path
	_model_outputs = _policy_outputs()
	var model = _open_policy(data, policy_path, _image["shape"] if _image else PackedInt32Array([obs_dim]), obs_dim,
			what, _model_outputs, "the action space")
	if model is String:
		return model
	_model = model
	print("AIGYM_PLAY_START {\"policy\": \"%s\", \"agents\": %d, \"episodes\": %d, \"seed\": %d}" % [
		policy_path, env.n_agents, env.play_episodes, env.initial_seed])
	return ""


## A warmed-up cTorchModel on `data` (the policy at `path`) taking `in_size` values per observation
## (a plain torch.jit file without export_policy metadata gets `shape`) and giving `outputs`
## values; or what is wrong (a String). `observes`/`space` name the two sizes in the messages.
func _open_policy(data: Resource, path: String, shape: PackedInt32Array, in_size: int, observes: String,
		outputs: int, space: String) -> Variant:
	var model: Object = ClassDB.instantiate(&"cTorchModel")
	model.call(&"set_data", data)
	var takes: int = model.call(&"get_input_size")
	if takes < 0:
		model.call(&"set_input_shape", shape)
	elif takes != in_size:
		return "the policy %s takes %d values per observation; %s" % [path, takes, observes]
	if not model.call(&"warmup"):
		return "the policy %s does not run (see the errors above)" % path
	var out_size: int = model.call(&"get_output_size")
	if out_size > 0 and out_size != outputs:
		return "the policy %s outputs %d values per observation; %s needs %d" % [path, out_size, space, outputs]
	return model


## One physics frame.
func tick() -> void:
	var env := _env
	if _done or env.has_failed():
		return
	if _repeat_left > 0:
		_repeat_left -= 1
		env._gym_act(env.actions)
		return
	var n: int = env.n_agents
	if not _started:
		_started = true
		_ep_return.resize(n)
		_ep_return.fill(0.0)
		_active.resize(n)
		_active.fill(1)
		for i in n:
			env.episodes.restart(i)
		_episodes_started = n
		_t0 = Time.get_ticks_usec()
		env._gym_observe()
		_add_checksum()
		if _image:
			return  # act once this frame has drawn the first observations
	elif env.step_mode == GymEnv.StepMode.PHYSICS:
		_finish_step()
		if _done:
			return
	if not _choose_actions():
		return
	env._gym_act(env.actions)
	_steps += 1
	if env.step_mode == GymEnv.StepMode.IMMEDIATE:
		for r in env.action_repeat - 1:
			env._gym_act(env.actions)
		_finish_step()
		return
	_repeat_left = env.action_repeat - 1


## The actions of every agent into env.actions: one batched policy call, or random ones.
func _choose_actions() -> bool:
	var env := _env
	var n: int = env.n_agents
	var w: int = env.action_width
	var actions: PackedFloat32Array = env.actions
	var nvec: PackedInt32Array = env.action_nvec
	var discrete: bool = env.action_type == GymEnv.ActionType.DISCRETE
	var multi: bool = env.action_type == GymEnv.ActionType.MULTI_DISCRETE
	if _random:
		var rng: RandomNumberGenerator = env.rng
		for i in n:
			if discrete:
				actions[i] = rng.randi_range(0, env.action_size - 1)
			elif multi:
				for j in w:
					actions[i * w + j] = rng.randi_range(0, nvec[j] - 1)
			else:
				for j in w:
					actions[i * w + j] = rng.randf_range(_bound(env.action_low, j, -1.0), _bound(env.action_high, j, 1.0))
		return true
	var x: PackedFloat32Array = (_image_input() if _image else _dict_input.encode(env) if _dict_input != null
			else env.out.slice(0, n * env.obs_dim))
	if x.is_empty():
		return false
	var y: PackedFloat32Array = _model.call(&"run_batch", x, n)
	var k_out := y.size() / n
	if k_out == 0:
		env.fail("the policy returned no output (see the errors above)")
		return false
	if k_out != _model_outputs:
		env.fail("the policy %s returned %d values per observation; the action space needs %d" % [env.policy_path, k_out, _model_outputs])
		return false
	for i in n:
		var base := i * k_out
		if discrete:  # logits -> the most likely action
			actions[i] = _argmax(y, base, k_out)
		elif multi:  # one block of logits per dimension
			for j in w:
				actions[i * w + j] = _argmax(y, base, nvec[j])
				base += nvec[j]
		else:  # the mean action, clipped to the space
			for j in w:
				actions[i * w + j] = clampf(y[base + j], _bound(env.action_low, j, -1.0), _bound(env.action_high, j, 1.0))
	return true


## Every agent's last drawn camera frame as floats 0..255 (H, W, C per agent), the policy's input.
func _image_input() -> PackedFloat32Array:
	var size: int = _image["size"]
	_pixels.resize(size * _env.n_agents)
	var k := 0
	for sensor in _image["sensors"]:
		var frame: PackedByteArray = sensor.capture()
		if frame.size() != size:
			_env.fail("play: observation part '%s': %s gave %d bytes, not %d" % [_image["name"], sensor.name, frame.size(), size])
			return PackedFloat32Array()
		for b in frame:
			_pixels[k] = b
			k += 1
	return _pixels


## Observe + step limit without autoreset (the quota decides who restarts), then account the episodes.
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
			_episode_ended(i)
			_lengths.append(episodes.episode_steps(i))
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


## Called when agent i's episode ended and its return was appended to _returns (a subclass keeps
## more about it).
func _episode_ended(_agent: int) -> void:
	pass


## Index of the largest of y[base .. base + count) (the first one on ties).
func _argmax(y: PackedFloat32Array, base: int, count: int) -> int:
	var best := 0
	for k in count:
		if y[base + k] > y[base + best]:
			best = k
	return best


## Values a policy outputs per observation: one per BOX dimension, one logit per choice otherwise.
func _policy_outputs() -> int:
	if _env.action_type == GymEnv.ActionType.MULTI_DISCRETE:
		var total := 0
		for k in _env.action_nvec:
			total += k
		return total
	return _env.action_size


func _bound(a: PackedFloat32Array, j: int, default: float) -> float:
	return a[j] if a.size() > j else default


func _add_checksum() -> void:
	if _checksum_open:
		for j in _env.obs_dim:
			_checksum += _env.out[j]


func _report() -> void:
	_done = true
	var total := 0.0
	for r in _returns:
		total += r
	var result := {
		"episodes": _returns.size(),
		"mean_return": total / max(1, _returns.size()),
		"min_return": _returns.min(),
		"max_return": _returns.max(),
		"returns": _returns,
		"lengths": _lengths,
		"steps": _steps,
		"seconds": (Time.get_ticks_usec() - _t0) / 1e6,
		"policy": _env.policy_path,
		"seed": _env.initial_seed,
		"first_episode_obs_checksum": _checksum,
	}
	print("AIGYM_PLAY_RESULT " + JSON.stringify(result))
	_env.get_tree().quit(0)
