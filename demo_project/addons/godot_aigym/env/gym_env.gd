## GymEnv: turns a scene into a reinforcement-learning environment driven from Python.
##
## The node declares the observation and action spaces (Python discovers them: nothing is
## declared twice) and runs the agents' callbacks; GymTransport speaks the step protocol
## (docs/STEP_PROTOCOL.md), GymEpisodes keeps the episodes, GymPlayer plays without Python.
## One command per physics tick (or `action_repeat` ticks): apply the actions of every agent,
## let physics run, observe, answer. Many agents are batched; resets take no physics tick.
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

const P := preload("gym_protocol.gd")
const GymSpecBuilder := preload("gym_spec.gd")
const GymAgents := preload("gym_agents.gd")
const GymTreeWatch := preload("gym_tree_watch.gd")

enum ActionType { BOX, DISCRETE, MULTI_DISCRETE }
enum Mode { NONE, REMOTE, PLAY, RANDOM }
enum StepMode { PHYSICS, IMMEDIATE }

@export var env_name := ""
@export_group("Spaces")
## Floats per agent from get_observation() (0: none; allowed with observation_parts).
@export var observation_size := 4
## A Dict observation: part name -> path of a sensor node under each agent (CameraSensor2D/3D:
## uint8 images, RaycastSensor2D/3D: float boxes). Empty: the observation is the flat Box.
@export var observation_parts := {}
## The name of the get_observation() part in a Dict observation.
@export var state_part := "state"
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
## The seed rng started with (reported by play mode).
var initial_seed := 0

## Output buffer, sent to Python once per command:
## [obs (n*D) | reward (n) | terminated (n) | truncated (n) | final obs (n*D)].
## Write into it; never assign a new array (GymEpisodes and GymTransport hold this one).
var out := PackedFloat32Array()
## The actions of the current step, n * action_width floats (DISCRETE, MULTI_DISCRETE: the
## indices as floats). Remote mode refills this one array in place every step: copy to keep.
var actions := PackedFloat32Array()
var obs_dim := 0
var action_width := 1
var reward_offset := 0
var terminated_offset := 0
var truncated_offset := 0
var final_obs_offset := 0
## Steps, limit and autoreset of every agent's episode.
var episodes := GymEpisodes.new()

var _transport: GymTransport = null  # remote mode
var _parts: GymObservationParts = null  # Dict observations
var _frame := GymFrame.new()  # render() frames
var _renders := false  # the engine draws frames (only then can _frame be busy)
var _player: GymPlayer = null  # play and random modes
var _autoreset := P.AUTORESET_NONE  # of the step in flight
var _repeat_left := 0
var _step_in_flight := false
var _agents_truncate := false
var _checked_obs := false
var _failed := false
var _lean := false  # on the short path: _lean_ready and the step channel is set up (first command served)
var _lean_ready := false  # REMOTE and IMMEDIATE, without action repeat, Dict parts or frames
var _lean_parts := false  # the same for Dict parts (images): the answer may wait for the frame
var _channel: cStepChannel = null  # the transport's: a STEP's wait and answer in one native call each
var _logged := PackedInt32Array([0])  # the transport's count of errors logged during the command
var _clock_due := episodes.clock_due  # [clock, due] of the episodes (shared): the lean path's steady steps


# -- overridable callbacks (batched API) ----------------------------------------------------------
## Called once after the agents exist and the buffers are sized (allocate per-agent state here).
func _gym_setup() -> void:
	pass


## Reset agent `i` (use `rng` for randomness so seeds reproduce episodes).
func _gym_reset(i: int) -> void:
	agents[i].reset_agent(rng)


## Apply `actions` (n_agents * action_width floats) to every agent. Called on every physics tick
## of a step, so forces can be re-applied under action repeat. `acts` is one array refilled in
## place by every step: copy it with `acts.duplicate()` to keep one.
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
		var o = agent.get_observation() if d > 0 else []
		if not _checked_obs:
			var err := GymAgents.answer_error(agent, o, d, "the observation space has")
			if err != "":
				fail(err)
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
	var args := GymArgs.parse()
	var err := GymSetup.apply_args(self, args)
	if mode == Mode.REMOTE:
		_transport = GymTransport.new()
		var attach_error := _transport.attach(str(args.get("env-prefix", P.DEFAULT_PREFIX)),
				GymArgs.int_value(args, "spin-us", -1))
		if attach_error != "":
			fail(attach_error)
			return
	if err != "":  # after the attach: Python gets the message
		fail(err)
		return
	err = _configure()
	if err != "":
		fail(err)
		return
	_gym_setup()
	if _failed:
		return
	OffscreenWindow.stop_drawing(get_tree())  # on the host's private X server nobody sees the main window
	if mode == Mode.REMOTE:
		_transport.frame_shape = GymFrame.shape()
		_renders = not _transport.frame_shape.is_empty()
		err = _transport.publish_spec(spec(), n_agents, action_width, out.size(),
				_parts.tensor_sizes() if _parts != null else [])
		if err != "":
			fail(err)
			return
		actions = _transport.actions  # one array from now on: the transport refills it in place
		_logged = _transport.logged
		_lean_ready = step_mode == StepMode.IMMEDIATE and action_repeat == 1 and _parts == null and not _renders
		_lean_parts = step_mode == StepMode.IMMEDIATE and action_repeat == 1 and _parts != null  # once served
		# internal: not among get_children(), which batched scenes and GymGroupEnv walk
		add_child(GymTreeWatch.new(self), false, Node.INTERNAL_MODE_BACK)  # a paused tree stops the scene
	else:
		_player = call(&"_new_group_player") if has_method(&"_new_group_player") else GymPlayer.new()
		err = _player.start(self, mode == Mode.RANDOM)
		if err != "":
			fail(err)


## Checks the settings, sizes the buffers and finds the agents (GymSetup); the error or "".
## GymGroupEnv overrides it to lay its groups out first.
func _configure() -> String:
	var err := GymSetup.configure(self)
	if err != "" or agents.is_empty():  # a batched subclass has no agent nodes
		return err
	_agents_truncate = agents[0].has_method("is_truncated")
	if not observation_parts.is_empty():
		_parts = GymObservationParts.new()
		return _parts.setup(agents, observation_parts)
	return ""


## The space description Python reads at start-up (the only place spaces are defined).
func spec() -> Dictionary:
	return GymSpecBuilder.describe(self, _parts)


## Reports a fatal error: to the log, to Python (when remote), then quits with code 1.
func fail(message: String) -> void:
	if _failed:
		return
	_failed = true
	_lean = false
	_lean_parts = false
	mode = Mode.NONE
	push_error("GymEnv: " + message)
	if _transport != null:
		_transport.fail(message)
	get_tree().quit(1)


func has_failed() -> bool:
	return _failed


## The Dict observation's parts (null: the observation is the flat Box).
func get_dict_parts() -> GymObservationParts:
	return _parts


# -- the step loop ------------------------------------------------------------------------------
## REMOTE: answer the step in flight, then run commands until one needs this tick (a STEP) or
## a frame (RENDER, images). The lean path (`_lean`: IMMEDIATE steps without repeat, Dict parts or
## frames, the common case) serves a STEP with the fewest script calls and lines: this runs on
## every step, and GDScript pays per line and ~0.1 us per script or native call. `_lean_parts`:
## the same for Dict parts, whose answer GymObservationParts sends (after the frame, for images).
func _physics_process(_delta: float) -> void:
	if _lean:
		var c := _channel.wait_step(actions)  # the wait, and a STEP's actions read in place
		if (c & 255) == P.CMD_STEP:  # c = command + 256 * flags
			_gym_act(actions)
			if c == P.CMD_STEP and _clock_due[0] + 1 < _clock_due[1]:  # no autoreset, none at the limit:
				_gym_observe()  # all finish_step does then, without its call (-6 % of the engine's step)
				_clock_due[0] += 1
			else:
				episodes.finish_step(c >> 8)
			if not _failed:
				if _logged[0] > 0:
					_transport.answer(out)  # reports the errors with the answer
				else:
					_channel.answer(out)
			return
		_serve(_transport.take_command() if c == -2 else 0)  # -2: another command, -1: the wait failed
		return
	if _lean_parts and _channel != null:  # Dict parts: _parts answers, after the frame with images
		if _parts.busy or _frame.busy:
			return
		var c := _channel.wait_step(actions)
		if (c & 255) == P.CMD_STEP:
			_gym_act(actions)
			_parts.finish_step(self, _transport, c >> 8)
			return
		_serve(_transport.take_command() if c == -2 else 0)
		return
	if mode != Mode.REMOTE:
		if _player != null:
			_player.tick()
		return
	if (_parts != null and _parts.busy) or (_renders and _frame.busy):  # no lookups in a headless engine
		return  # an answer waits for its frame
	if _repeat_left > 0:
		_repeat_left -= 1
		_gym_act(actions)
		return
	if _step_in_flight:
		_step_in_flight = false
		if _parts != null:
			_parts.finish_step(self, _transport, _autoreset)
			if _parts.busy or _failed:
				return  # the answer waits for its frame: the next command comes next tick
		else:
			episodes.finish_step(_autoreset)
			if _failed:
				return
			_transport.answer(out)
	_serve(_transport.wait_command())
	_channel = _transport.channel  # set at the first command
	_lean = _lean_ready and mode == Mode.REMOTE and _channel != null


## Runs `cmd` and the commands after it until one needs this tick (a STEP), a frame, or quits.
func _serve(cmd: int) -> void:
	var transport := _transport
	while true:
		if cmd == 0:
			_lean = false
			_lean_parts = false
			if transport.error != "":
				fail(transport.error)
			else:
				mode = Mode.NONE  # the host died or asked us to quit; the semaphore quit the tree
			return
		if cmd == P.CMD_STEP:
			_autoreset = transport.flags
			_gym_act(actions)
			if step_mode == StepMode.IMMEDIATE:
				if action_repeat > 1:
					for r in action_repeat - 1:
						_gym_act(actions)
				if _parts != null:
					_parts.finish_step(self, transport, _autoreset)
					return
				episodes.finish_step(_autoreset)
				if _failed:
					return
				transport.answer(out)
				return  # one step per frame: the rest of the frame runs while Python works
			_repeat_left = action_repeat - 1
			_step_in_flight = true
			return
		elif cmd == P.CMD_RESET:
			if (transport.flags & P.FLAG_SEED) != 0:
				rng.seed = transport.read_seed()
				seed(rng.seed)
			if _parts != null:
				_parts.reset(self, transport, transport.reset_mask())
				if _parts.busy or _failed:
					return  # the answer waits for its frame: the next command comes next tick
			else:
				episodes.reset(transport.reset_mask())
				if _failed:
					return
				transport.answer(out)
		elif cmd == P.CMD_RENDER and not transport.frame_shape.is_empty():
			_frame.render(self, transport)
			return  # the frame is drawn after this tick; the next command comes next tick
		elif cmd == P.CMD_CLOSE:
			_lean = false
			_lean_parts = false
			mode = Mode.NONE
			transport.acknowledge()
			get_tree().quit(0)
			return
		else:
			fail("unknown command %d from the host" % cmd)
			return
		cmd = transport.wait_command()


func _exit_tree() -> void:
	if _transport != null:
		_transport.detach()
		if mode == Mode.REMOTE and not _failed:  # not CLOSE nor fail(): a scene change or a queue_free?
			# one frame later, unless the tree was quitting (no frame comes): the host waited for the
			# step until its step_timeout ("hung?") after a game-over change_scene_to_file
			var tree := get_tree()
			tree.process_frame.connect(GymTreeWatch.left_the_tree.bind(tree, _transport), CONNECT_ONE_SHOT)

