## GymEnv: turns a scene into a reinforcement-learning environment driven from Python.
##
## The node owns the godot-aigym environment protocol (docs/ENVIRONMENTS.md): it attaches to the
## shared-memory chunk named by --handle, publishes the observation and action spaces as JSON
## (Python discovers them: nothing is declared twice), then runs one step per physics tick (or
## `action_repeat` ticks): wait for the command, apply the actions of every agent, let physics
## run, observe, post. Many agents are batched in the same tensors; resets take no physics tick.
##
## A scene supplies the callbacks, in one of two ways:
##  * agent nodes (the simple way): set `agent_scene` (GymEnv instances `n_agents` copies) or add
##    agent children; each agent implements
##        reset_agent(rng: RandomNumberGenerator) -> void
##        apply_action(action) -> void      # int (DISCRETE), PackedInt32Array (MULTI_DISCRETE)
##                                          # or PackedFloat32Array (BOX)
##        get_observation() -> PackedFloat32Array   # (or Array) of `observation_size` numbers
##        get_reward() -> float
##        is_terminated() -> bool
##        is_truncated() -> bool            # optional; the step limit is handled here
##  * batched (the fast way): extend GymEnv and override _gym_reset(i), _gym_act(actions) and
##    _gym_observe(), which read `actions` and write the `out` buffer directly.
##
## Without --handle the node either plays a TorchScript policy (`policy_path`, through
## cTorchModel: no Python involved) and prints "AIGYM_PLAY_RESULT {json}", or, with no policy,
## runs random actions so the scene can be watched in the editor.
class_name GymEnv
extends Node

const PROTOCOL := "godot_aigym.env"
const PROTOCOL_VERSION := 1
const CMD_STEP := 1
const CMD_RESET := 2
const CMD_CLOSE := 3
const FLAG_SAME_STEP_AUTORESET := 1
const FLAG_SEED := 2
const IN_HEADER := 4            # in: [command, flags, reset count, reserved | mask (n) | actions (n*A)]

enum ActionType { BOX, DISCRETE, MULTI_DISCRETE }
enum Mode { NONE, REMOTE, PLAY, RANDOM }
enum StepMode { PHYSICS, IMMEDIATE }

@export var env_name := ""
@export_group("Spaces")
@export var observation_size := 4
## Per-dimension bounds; empty means unbounded (-inf, inf).
@export var observation_low := PackedFloat32Array()
@export var observation_high := PackedFloat32Array()
@export var action_type: ActionType = ActionType.BOX
## BOX: number of action dimensions. DISCRETE: number of actions. MULTI_DISCRETE: unused.
@export var action_size := 1
## MULTI_DISCRETE: the number of choices of each action dimension (a gymnasium MultiDiscrete).
@export var action_nvec := PackedInt32Array()
## BOX bounds per dimension; empty means [-1, 1].
@export var action_low := PackedFloat32Array()
@export var action_high := PackedFloat32Array()
## PHYSICS: apply the actions, let `action_repeat` physics ticks run, then observe (bodies move).
## IMMEDIATE: the scene computes its own dynamics in _gym_act (no physics bodies), so the step
## is act-then-observe inside one frame, and the rest of the frame overlaps with Python's work.
@export var step_mode: StepMode = StepMode.PHYSICS
@export_group("Episodes")
## Agents in this scene; Python overrides it with --n-agents.
@export var n_agents := 1
## Truncate episodes after this many steps (0: never).
@export var max_episode_steps := 0
## Physics ticks per step (Python may override it with --action-repeat).
@export var action_repeat := 1
@export_group("Agents")
## Instanced `n_agents` times as children of this node (leave empty for agent children or batched subclasses).
@export var agent_scene: PackedScene
## Offset between consecutive instanced agents (Node2D/Node3D agents).
@export var agent_spacing := Vector2.ZERO
@export_group("Play (no Python)")
## A TorchScript policy (.jit) run by cTorchModel when no --handle is given (or --policy PATH).
@export var policy_path := ""
@export var play_episodes := 10
@export var play_seed := 0

var rng := RandomNumberGenerator.new()
var agents: Array[Node] = []
var mode: Mode = Mode.NONE

## Output buffer, written to shared memory once per step:
## [obs (n*D) | reward (n) | terminated (n) | truncated (n) | final obs (n*D)].
var out := PackedFloat32Array()
## The actions of the current step, n * action_width floats (DISCRETE, MULTI_DISCRETE: the
## indices as floats).
var actions := PackedFloat32Array()
var obs_dim := 0
var action_width := 1
var reward_offset := 0
var terminated_offset := 0
var truncated_offset := 0
var final_obs_offset := 0
var episode_steps := PackedInt32Array()

var _mem: cSharedMemory
var _sem_action: cSharedMemorySemaphore
var _sem_obs: cSharedMemorySemaphore
var _in_tensor: cPersistentFloatTensor
var _out_tensor: cPersistentFloatTensor
var _spec_tensor: cPersistentUintTensor
var _seed_tensor: cPersistentIntTensor
var _errors_tensor: cPersistentIntTensor  # errors logged during the last command (null: an older host)
var _watch: RefCounted = null  # an ErrorWatch (error_watch.gd) where Godot has Logger (>= 4.5)
var _prefix := "gym_"
var _inp := PackedFloat32Array()
var _flags := 0
var _repeat_left := 0
var _step_in_flight := false
var _agent_nodes := true
var _agents_truncate := false
var _checked_obs := false
var _failed := false

# play / random mode
var _model: Object = null
var _model_outputs := 0  # values the policy must output per observation (_policy_outputs())
var _play_started := false
var _ep_return := PackedFloat64Array()
var _agent_active := PackedByteArray()
var _returns: Array[float] = []
var _lengths: Array[int] = []
var _episodes_started := 0
var _play_t0 := 0
var _play_steps := 0
var _initial_seed := 0
var _checksum := 0.0  # sum of agent 0's observations over its first episode (compare with Python)
var _checksum_open := true


# -- overridable callbacks (batched API) ----------------------------------------------------------
## Called once after the agents exist and the buffers are sized (allocate per-agent state here).
func _gym_setup() -> void:
	pass


## Reset agent `i` (use `rng` for randomness so seeds reproduce episodes).
func _gym_reset(i: int) -> void:
	agents[i].reset_agent(rng)


## Apply `actions` (n_agents * action_width floats) to every agent. Called on every physics tick
## of a step, so forces can be re-applied under action repeat.
func _gym_act(acts: PackedFloat32Array) -> void:
	var w := action_width
	if action_type == ActionType.DISCRETE:
		for i in n_agents:
			agents[i].apply_action(int(acts[i]))
	elif action_type == ActionType.MULTI_DISCRETE:
		for i in n_agents:
			var a := PackedInt32Array()  # a new one per agent: agents may keep it
			a.resize(w)
			for j in w:
				a[j] = int(acts[i * w + j])
			agents[i].apply_action(a)
	else:
		for i in n_agents:
			agents[i].apply_action(acts.slice(i * w, i * w + w))


## Fill out[] for every agent: observation at i*obs_dim, reward at reward_offset+i,
## terminated (0/1) at terminated_offset+i, truncated (0/1) at truncated_offset+i.
## Must not change the game state (it may be called twice in one step).
func _gym_observe() -> void:
	var d := obs_dim
	for i in n_agents:
		var agent: Node = agents[i]
		var o = agent.get_observation()
		if not _checked_obs:
			if o.size() != d:
				_fail("%s.get_observation() returned %d values, the observation space has %d" % [agent.name, o.size(), d])
				return
		var base := i * d
		for j in d:
			out[base + j] = o[j]
		out[reward_offset + i] = agent.get_reward()
		out[terminated_offset + i] = 1.0 if agent.is_terminated() else 0.0
		out[truncated_offset + i] = 1.0 if _agents_truncate and agent.is_truncated() else 0.0
	_checked_obs = true


# -- set-up ---------------------------------------------------------------------------------------
func _ready() -> void:
	var args := _parse_args()
	if args.has("n-agents"):
		n_agents = int(args["n-agents"])
	if args.has("action-repeat"):
		action_repeat = int(args["action-repeat"])
	if args.has("max-episode-steps"):
		max_episode_steps = int(args["max-episode-steps"])
	if args.has("env-prefix"):
		_prefix = str(args["env-prefix"])
	if args.has("physics-fps"):
		Engine.physics_ticks_per_second = int(args["physics-fps"])
	if args.has("play-episodes"):
		play_episodes = int(args["play-episodes"])
	if args.has("policy"):
		policy_path = str(args["policy"])
	if args.has("seed"):
		rng.seed = int(args["seed"])
		seed(int(args["seed"]))
	elif args.has("handle") or policy_path == "":
		rng.randomize()
	else:
		rng.seed = play_seed
		seed(play_seed)
	if args.has("handle"):
		mode = Mode.REMOTE
	elif args.has("play") or (policy_path != "" and not args.has("random")):
		mode = Mode.PLAY
	else:
		mode = Mode.RANDOM
	_initial_seed = rng.seed
	Engine.physics_jitter_fix = 0.0  # exactly one physics tick per fixed frame: deterministic steps

	if mode == Mode.REMOTE:
		_mem = cSharedMemory.new()
		if not _mem.exists():
			_fail("could not attach to the shared memory named by --handle")
			return
		_sem_action = _mem.findSemaphore(_prefix + "sem_action")
		_sem_obs = _mem.findSemaphore(_prefix + "sem_obs")
		_spec_tensor = _mem.findUintTensor(_prefix + "spec")
		_seed_tensor = _mem.findIntTensor(_prefix + "seed")
		if _sem_action == null or _sem_obs == null or _spec_tensor == null or _seed_tensor == null:
			_fail("the shared memory lacks the environment entries with prefix '%s'" % _prefix)
			return
		if args.has("spin-us"):
			_sem_action.spin_us = int(args["spin-us"])
		_errors_tensor = _mem.findIntTensor(_prefix + "errors")
		if _errors_tensor != null and ClassDB.class_exists(&"Logger"):
			# beside this file (get_script() may be a subclass elsewhere); load(), not preload():
			# error_watch.gd does not parse where Logger does not exist
			var here: Script = preload("gym_env.gd")
			_watch = load(here.resource_path.get_base_dir().path_join("error_watch.gd")).new()
			OS.call(&"add_logger", _watch)

	var err := _configure()
	if err != "":
		_fail(err)
		return
	_gym_setup()
	if _failed:
		return
	if mode == Mode.REMOTE:
		_write_spec(spec())
		_sem_obs.post()
	elif mode == Mode.PLAY:
		_start_play()


func _parse_args() -> Dictionary:
	var out_args := {}
	var argv := OS.get_cmdline_args() + OS.get_cmdline_user_args()
	var i := 0
	while i < argv.size():
		var a: String = argv[i]
		if a.begins_with("--"):
			var key := a.substr(2)
			if key.contains("="):
				out_args[key.get_slice("=", 0)] = key.get_slice("=", 1)
			elif i + 1 < argv.size() and not argv[i + 1].begins_with("--"):
				out_args[key] = argv[i + 1]
				i += 1
			else:
				out_args[key] = ""
		i += 1
	return out_args


func _configure() -> String:
	if n_agents < 1 or n_agents > 100000:
		return "n_agents must be 1..100000, got %d" % n_agents
	if action_repeat < 1:
		return "action_repeat must be >= 1, got %d" % action_repeat
	if observation_size < 1:
		return "observation_size must be >= 1"
	if action_type != ActionType.MULTI_DISCRETE and action_size < 1:
		return "action_size must be >= 1"
	if action_type == ActionType.MULTI_DISCRETE:
		if action_nvec.is_empty():
			return "action_nvec must list the choices of each action dimension (MULTI_DISCRETE)"
		for k in action_nvec:
			if k < 1:
				return "action_nvec entries must be >= 1, got %s" % action_nvec
	if observation_low.size() not in [0, observation_size] or observation_high.size() not in [0, observation_size]:
		return "observation_low/high must be empty or have observation_size (%d) values" % observation_size
	if action_type == ActionType.BOX and (action_low.size() not in [0, action_size] or action_high.size() not in [0, action_size]):
		return "action_low/high must be empty or have action_size (%d) values" % action_size
	obs_dim = observation_size
	action_width = {ActionType.BOX: action_size, ActionType.DISCRETE: 1,
			ActionType.MULTI_DISCRETE: action_nvec.size()}[action_type]
	var n := n_agents
	reward_offset = n * obs_dim
	terminated_offset = reward_offset + n
	truncated_offset = terminated_offset + n
	final_obs_offset = truncated_offset + n
	out.resize(final_obs_offset + n * obs_dim)
	out.fill(0.0)
	actions.resize(n * action_width)
	actions.fill(0.0)
	episode_steps.resize(n)
	episode_steps.fill(0)

	# agents: instanced from agent_scene, or the children that implement the callbacks
	if agent_scene != null:
		for i in n:
			var agent := agent_scene.instantiate()
			agent.name = "Agent%d" % i
			if agent is Node2D:
				agent.position += agent_spacing * i
			elif agent is Node3D:
				agent.position += Vector3(agent_spacing.x, agent_spacing.y, 0.0) * i
			add_child(agent)
			agents.append(agent)
	else:
		for child in get_children():
			if child.has_method("get_observation"):
				agents.append(child)
	_agent_nodes = get_script() == preload("gym_env.gd") or not agents.is_empty()
	if _agent_nodes:
		if agents.size() != n:
			if agents.is_empty():
				return "GymEnv '%s' has no agents: set agent_scene, add agent children, or extend GymEnv and override _gym_reset/_gym_act/_gym_observe" % name
			return "GymEnv '%s' has %d agent children but n_agents is %d (use agent_scene to instance any number)" % [name, agents.size(), n]
		var required := ["reset_agent", "apply_action", "get_observation", "get_reward", "is_terminated"]
		for agent in agents:
			var missing := []
			for m in required:
				if not agent.has_method(m):
					missing.append(m)
			if not missing.is_empty():
				return "agent %s lacks the callbacks: %s" % [agent.name, ", ".join(missing)]
		_agents_truncate = agents[0].has_method("is_truncated")
	return ""


## The space description Python reads at start-up (the only place spaces are defined).
func spec() -> Dictionary:
	var obs_low: Array = []
	var obs_high: Array = []
	for j in observation_size:
		obs_low.append(_json_bound(observation_low[j] if observation_low.size() > 0 else -INF))
		obs_high.append(_json_bound(observation_high[j] if observation_high.size() > 0 else INF))
	var action := {}
	if action_type == ActionType.DISCRETE:
		action = {"type": "discrete", "n": action_size}
	elif action_type == ActionType.MULTI_DISCRETE:
		action = {"type": "multi_discrete", "nvec": Array(action_nvec)}
	else:
		var lo: Array = []
		var hi: Array = []
		for j in action_size:
			lo.append(_json_bound(action_low[j] if action_low.size() > 0 else -1.0))
			hi.append(_json_bound(action_high[j] if action_high.size() > 0 else 1.0))
		action = {"type": "box", "shape": [action_size], "low": lo, "high": hi}
	return {
		"protocol": PROTOCOL,
		"version": PROTOCOL_VERSION,
		"name": env_name if env_name != "" else str(name),
		"scene": get_tree().current_scene.scene_file_path if get_tree().current_scene else "",
		"n_agents": n_agents,
		"observation": {"type": "box", "shape": [observation_size], "low": obs_low, "high": obs_high, "dtype": "float32"},
		"action": action,
		"action_width": action_width,
		"max_episode_steps": max_episode_steps,
		"action_repeat": action_repeat,
		"physics_ticks_per_second": Engine.physics_ticks_per_second,
		"in_size": IN_HEADER + n_agents + n_agents * action_width,
		"out_size": out.size(),
		"seed": rng.seed,
		"engine": Engine.get_version_info()["string"],
	}


func _json_bound(v: float):
	if is_inf(v) or is_nan(v):
		return null
	return v


func _write_spec(d: Dictionary) -> void:
	if _spec_tensor == null:
		return
	var text := JSON.stringify(d).to_utf8_buffer()
	var capacity: int = _spec_tensor.size()
	if text.size() > capacity - 4:
		push_error("GymEnv: the space description (%d bytes) does not fit the spec tensor (%d)" % [text.size(), capacity])
		text = JSON.stringify({"protocol": PROTOCOL, "version": PROTOCOL_VERSION,
			"error": "the space description is too large for the spec tensor"}).to_utf8_buffer()
	var buf := PackedByteArray()
	buf.resize(4)
	buf.encode_u32(0, text.size())
	buf.append_array(text)
	buf.resize(capacity)
	_spec_tensor.write(buf)


## Reports a fatal error: to the log, to Python (in the spec tensor), then quits with code 1.
func _fail(message: String) -> void:
	if _failed:
		return
	_failed = true
	mode = Mode.NONE
	push_error("GymEnv: " + message)
	if _spec_tensor != null:
		_write_spec({"protocol": PROTOCOL, "version": PROTOCOL_VERSION, "error": message})
		if _sem_obs != null:
			_sem_obs.post()
	get_tree().quit(1)


# -- the step loop ------------------------------------------------------------------------------
func _physics_process(_delta: float) -> void:
	if mode == Mode.REMOTE:
		_remote_tick()
	elif mode == Mode.PLAY or mode == Mode.RANDOM:
		_play_tick()


func _remote_tick() -> void:
	if _repeat_left > 0:
		_repeat_left -= 1
		_gym_act(actions)
		return
	if _step_in_flight:
		_step_in_flight = false
		_finish_step()
		if _failed:
			return
		if _watch != null and _watch.count > 0:  # inlined, not a helper: this runs on every step
			_report_errors()
		_out_tensor.write(out)
		_sem_obs.post()
	while true:
		if not _sem_action.wait():
			mode = Mode.NONE  # the host died or asked us to quit; the semaphore quit the tree
			return
		if _in_tensor == null and not _attach_io():
			return
		_inp = _in_tensor.read()
		var cmd := int(_inp[0])
		if cmd == CMD_STEP:
			_flags = int(_inp[1])
			actions = _inp.slice(IN_HEADER + n_agents)
			_gym_act(actions)
			if step_mode == StepMode.IMMEDIATE:
				for r in action_repeat - 1:
					_gym_act(actions)
				_finish_step()
				if _failed:
					return
				if _watch != null and _watch.count > 0:
					_report_errors()
				_out_tensor.write(out)
				_sem_obs.post()
				return  # one step per frame: the rest of the frame runs while Python works
			_repeat_left = action_repeat - 1
			_step_in_flight = true
			return
		elif cmd == CMD_RESET:
			_reset_all((int(_inp[1]) & FLAG_SEED) != 0)
			if _failed:
				return
			if _watch != null and _watch.count > 0:
				_report_errors()
			_out_tensor.write(out)
			_sem_obs.post()
		elif cmd == CMD_CLOSE:
			mode = Mode.NONE
			_sem_obs.post()
			get_tree().quit(0)
			return
		else:
			_fail("unknown command %d from the host" % cmd)
			return


## Before a command's results are posted: hand Python the errors logged while it ran. Their
## texts go to the spec tensor (free after start-up), their number to the errors tensor.
func _report_errors() -> void:
	var taken: Array = _watch.take()
	_write_spec({"protocol": PROTOCOL, "version": PROTOCOL_VERSION, "engine_errors": taken[0], "count": taken[1]})
	_errors_tensor.write(PackedInt32Array([taken[1]]))


func _exit_tree() -> void:
	if _watch != null:
		OS.call(&"remove_logger", _watch)
		_watch = null


func _attach_io() -> bool:
	_in_tensor = _mem.findFloatTensor(_prefix + "in")
	_out_tensor = _mem.findFloatTensor(_prefix + "out")
	if _in_tensor == null or _out_tensor == null:
		_fail("the host did not create the tensors '%sin' and '%sout'" % [_prefix, _prefix])
		return false
	var in_size: int = IN_HEADER + n_agents + n_agents * action_width
	if _in_tensor.size() != in_size or _out_tensor.size() != out.size():
		_fail("tensor sizes differ from the spec: in %d (expected %d), out %d (expected %d)" % [
			_in_tensor.size(), in_size, _out_tensor.size(), out.size()])
		return false
	return true


func _reset_all(use_seed: bool) -> void:
	if use_seed:
		var s: PackedInt32Array = _seed_tensor.read()
		var value: int = (int(s[1]) << 32) | (int(s[0]) & 0xFFFFFFFF)
		rng.seed = value
		seed(value)
	var partial := int(_inp[2]) > 0  # a reset mask selects the agents (vector envs)
	for i in n_agents:
		if partial and _inp[IN_HEADER + i] == 0.0:
			continue
		_gym_reset(i)
		episode_steps[i] = 0
	_gym_observe()
	for i in n_agents:
		out[reward_offset + i] = 0.0
		out[terminated_offset + i] = 0.0
		out[truncated_offset + i] = 0.0


## After the physics ticks of a step: next-step resets, observation, step limit, same-step resets.
func _finish_step() -> void:
	var n := n_agents
	var n_masked := int(_inp[2])
	if n_masked > 0:  # NEXT_STEP autoreset: these agents finished last step; their action was ignored
		for i in n:
			if _inp[IN_HEADER + i] != 0.0:
				_gym_reset(i)
				episode_steps[i] = -1
	_gym_observe()
	if _failed:
		return
	# The hot loop only counts steps; the rarer cases get loops of their own.
	var limit := max_episode_steps if max_episode_steps > 0 else 0x7fffffff
	var tr := truncated_offset
	for i in n:
		var s := episode_steps[i] + 1
		episode_steps[i] = s
		if s >= limit:
			out[tr + i] = 1.0
	if n_masked > 0:  # agents that restarted this step report no reward and no flags
		for i in n:
			if episode_steps[i] == 0:
				out[reward_offset + i] = 0.0
				out[terminated_offset + i] = 0.0
				out[truncated_offset + i] = 0.0
	if (_flags & FLAG_SAME_STEP_AUTORESET) != 0 and _any_done():
		_same_step_autoreset()


func _any_done() -> bool:
	for i in n_agents:
		if out[terminated_offset + i] != 0.0 or out[truncated_offset + i] != 0.0:
			return true
	return false


## SAME_STEP autoreset: keep the final observation, reset finished agents, report their first observation.
func _same_step_autoreset() -> void:
	var n := n_agents
	var d := obs_dim
	var keep := out.slice(reward_offset, final_obs_offset)  # rewards and flags of this step
	for i in n:
		if out[terminated_offset + i] != 0.0 or out[truncated_offset + i] != 0.0:
			var base := i * d
			for j in d:
				out[final_obs_offset + base + j] = out[base + j]
			_gym_reset(i)
			episode_steps[i] = 0
	_gym_observe()
	for k in keep.size():
		out[reward_offset + k] = keep[k]


# -- play mode: a TorchScript policy inside the engine (no Python) --------------------------------
func _start_play() -> void:
	if not ClassDB.class_exists(&"cTorchModel"):
		_fail("play mode needs cTorchModel (the godot_aigym_torch library is not loaded)")
		return
	if not ResourceLoader.exists(policy_path):
		_fail("policy not found: %s (train it first: godot-aigym demo)" % policy_path)
		return
	var data = load(policy_path)
	if data == null:
		_fail("could not load the policy %s" % policy_path)
		return
	_model = ClassDB.instantiate(&"cTorchModel")
	_model.call(&"set_data", data)
	var in_size: int = _model.call(&"get_input_size")
	if in_size < 0:  # a plain torch.jit file without export_policy metadata: it gets flat observations
		_model.call(&"set_input_shape", PackedInt32Array([obs_dim]))
	elif in_size != obs_dim:
		_fail("the policy %s takes %d values per observation; the observation space has %d" % [policy_path, in_size, obs_dim])
		return
	if not _model.call(&"warmup"):
		_fail("the policy %s does not run (see the errors above)" % policy_path)
		return
	_model_outputs = _policy_outputs()
	var out_size: int = _model.call(&"get_output_size")
	if out_size > 0 and out_size != _model_outputs:
		_fail("the policy %s outputs %d values per observation; the action space needs %d" % [policy_path, out_size, _model_outputs])
		return
	print("AIGYM_PLAY_START {\"policy\": \"%s\", \"agents\": %d, \"episodes\": %d, \"seed\": %d}" % [
		policy_path, n_agents, play_episodes, _initial_seed])


func _play_tick() -> void:
	if _failed:
		return
	if _repeat_left > 0:
		_repeat_left -= 1
		_gym_act(actions)
		return
	var n := n_agents
	if not _play_started:
		_play_started = true
		_ep_return.resize(n)
		_ep_return.fill(0.0)
		_agent_active.resize(n)
		_agent_active.fill(1)
		for i in n:
			_gym_reset(i)
			episode_steps[i] = 0
		_episodes_started = n
		_play_t0 = Time.get_ticks_usec()
		_flags = FLAG_SAME_STEP_AUTORESET
		_gym_observe()
		_add_checksum()
	elif step_mode == StepMode.PHYSICS:
		_finish_step_play()
		if mode == Mode.NONE:
			return
	# choose the actions: one batched policy call for all agents
	var d := obs_dim
	var w := action_width
	var y := PackedFloat32Array()
	var k_out := 0
	if mode == Mode.PLAY:
		y = _model.call(&"run_batch", out.slice(0, n * d), n)
		k_out = y.size() / n
		if k_out == 0:
			_fail("the policy returned no output (see the errors above)")
			return
		if k_out != _model_outputs:
			_fail("the policy %s returned %d values per observation; the action space needs %d" % [policy_path, k_out, _model_outputs])
			return
	for i in n:
		if mode == Mode.RANDOM:
			if action_type == ActionType.DISCRETE:
				actions[i] = rng.randi_range(0, action_size - 1)
			elif action_type == ActionType.MULTI_DISCRETE:
				for j in w:
					actions[i * w + j] = rng.randi_range(0, action_nvec[j] - 1)
			else:
				for j in w:
					actions[i * w + j] = rng.randf_range(_bound(action_low, j, -1.0), _bound(action_high, j, 1.0))
			continue
		var base := i * k_out
		if action_type == ActionType.DISCRETE:  # logits -> the most likely action
			actions[i] = _argmax(y, base, k_out)
		elif action_type == ActionType.MULTI_DISCRETE:  # one block of logits per dimension
			for j in w:
				actions[i * w + j] = _argmax(y, base, action_nvec[j])
				base += action_nvec[j]
		else:  # the mean action, clipped to the space
			for j in w:
				actions[i * w + j] = clampf(y[base + j], _bound(action_low, j, -1.0), _bound(action_high, j, 1.0))
	_gym_act(actions)
	_play_steps += 1
	if step_mode == StepMode.IMMEDIATE:
		for r in action_repeat - 1:
			_gym_act(actions)
		_finish_step_play()
		return
	_repeat_left = action_repeat - 1


## Index of the largest of y[base .. base + count) (the first one on ties).
func _argmax(y: PackedFloat32Array, base: int, count: int) -> int:
	var best := 0
	for k in count:
		if y[base + k] > y[base + best]:
			best = k
	return best


## Values a policy outputs per observation: one per BOX dimension, one logit per choice otherwise.
func _policy_outputs() -> int:
	if action_type == ActionType.MULTI_DISCRETE:
		var total := 0
		for k in action_nvec:
			total += k
		return total
	return action_size


func _bound(a: PackedFloat32Array, j: int, default: float) -> float:
	return a[j] if a.size() > j else default


func _finish_step_play() -> void:
	var n := n_agents
	var d := obs_dim
	_inp.resize(IN_HEADER)
	_inp.fill(0.0)
	# observe + step limit, without resetting (the quota decides who restarts)
	_flags = 0
	_finish_step()
	_add_checksum()
	if out[terminated_offset] != 0.0 or out[truncated_offset] != 0.0:
		_checksum_open = false
	var restart := []
	for i in n:
		if _agent_active[i] == 0:
			continue
		_ep_return[i] += out[reward_offset + i]
		if out[terminated_offset + i] != 0.0 or out[truncated_offset + i] != 0.0:
			_returns.append(_ep_return[i])
			_lengths.append(episode_steps[i])
			_ep_return[i] = 0.0
			if mode == Mode.PLAY and _returns.size() >= play_episodes:
				_report_play()
				return
			if mode == Mode.RANDOM or _episodes_started < play_episodes:
				_episodes_started += 1
				restart.append(i)
			else:
				_agent_active[i] = 0
	if not restart.is_empty():
		for i in restart:
			_gym_reset(i)
			episode_steps[i] = 0
		_gym_observe()


func _add_checksum() -> void:
	if _checksum_open:
		for j in obs_dim:
			_checksum += out[j]


func _report_play() -> void:
	mode = Mode.NONE
	var total := 0.0
	for r in _returns:
		total += r
	var seconds := (Time.get_ticks_usec() - _play_t0) / 1e6
	var result := {
		"episodes": _returns.size(),
		"mean_return": total / max(1, _returns.size()),
		"min_return": _returns.min(),
		"max_return": _returns.max(),
		"returns": _returns,
		"lengths": _lengths,
		"steps": _play_steps,
		"seconds": seconds,
		"policy": policy_path,
		"seed": _initial_seed,
		"first_episode_obs_checksum": _checksum,
	}
	print("AIGYM_PLAY_RESULT " + JSON.stringify(result))
	get_tree().quit(0)
