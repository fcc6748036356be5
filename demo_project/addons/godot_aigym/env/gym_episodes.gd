## GymEpisodes: the episode bookkeeping of a GymEnv's agents -- steps taken, the step limit, and
## autoreset, decided here in the engine (docs/STEP_PROTOCOL.md, "Autoreset"): the host only
## says which mode a STEP uses, never which agents finished.
class_name GymEpisodes
extends RefCounted

const P := preload("gym_protocol.gd")

## Steps taken in each agent's current episode (a copy; episode_steps(i) for one agent).
var steps: PackedInt32Array:
	get:
		var all := PackedInt32Array()
		all.resize(_n)
		var clock := clock_due[0]
		for i in _n:
			all[i] = clock - _start[i]
		return all
## 1 where an agent's episode ended and the agent was not reset yet (NEXT_STEP resets these).
var finished := PackedByteArray()
## [clock, due]: the steps of this node, and the step at which some agent may first reach the
## step limit (the earliest start + limit). Shared by reference with GymEnv, whose lean path serves
## a STEP without autoreset before `due` itself: _gym_observe() and clock + 1, all finish_step does then.
var clock_due := PackedInt64Array([0, 0x7fffffff])

var _env: Node  # the GymEnv: its callbacks
var _n := 0
var _n_finished := 0
# Step counting without a per-agent loop: clock_due[0] counts the steps of this node, agent i's
# episode started at `_start[i]`, so it has taken `clock_due[0] - _start[i]` steps. Starts only
# move forward, so no agent can have reached the limit before clock_due[1] (at most the smallest
# start + limit); only then are the agents scanned (and clock_due[1] is made exact again).
var _start := PackedInt64Array()
# cached at setup (they do not change afterwards): the env's `out` (shared, written in place),
# its offsets and the step limit
var _out := PackedFloat32Array()
var _d := 0
var _r := 0
var _te := 0
var _tr := 0
var _fo := 0
var _flags_end := 0  # past the last truncated flag
var _limit := 0


## Sizes everything for `env`'s agents; call after env.out is sized and its offsets are set.
func setup(env: Node, n_agents: int) -> void:
	_env = env
	_n = n_agents
	_out = env.out
	_d = env.obs_dim
	_r = env.reward_offset
	_te = env.terminated_offset
	_tr = env.truncated_offset
	_fo = env.final_obs_offset
	_flags_end = _tr + n_agents
	_limit = env.max_episode_steps if env.max_episode_steps > 0 else 0x7fffffff
	_start.resize(n_agents)
	_start.fill(0)
	clock_due[0] = 0
	clock_due[1] = _limit
	finished.resize(n_agents)
	finished.fill(0)
	_n_finished = 0


## Resets the agents where `mask` is 1 (all of them when it is empty), then observes every agent
## and reports no reward and no flags. Takes no physics tick.
func reset(mask: PackedByteArray) -> void:
	var env := _env
	for i in _n:
		if mask.is_empty() or mask[i] != 0:
			_restart(i)
	env._gym_observe()
	_zero_scalars(false)


## Resets one agent (its observation is written by the next _gym_observe()).
func restart(i: int) -> void:
	_restart(i)


## After the physics ticks of a step: NEXT_STEP resets, observation, step limit, SAME_STEP resets.
## Runs on every step: the common case (no agent waiting for a reset, none at the limit, no flag
## set) takes a dozen lines and one native scan.
func finish_step(autoreset: int) -> void:
	var restarted := _n_finished > 0 and autoreset == P.AUTORESET_NEXT_STEP
	if restarted:  # these agents finished last step; their action was ignored: they start over instead
		for i in _n:
			if finished[i] != 0:
				_restart(i)
				_start[i] = clock_due[0] + 1  # this step does not count for them
	_env._gym_observe()
	clock_due[0] += 1
	if clock_due[0] >= clock_due[1]:  # some agent may have reached the step limit: find them
		_truncate_at_limit()
	if restarted:  # agents that restarted this step report no reward and no flags
		_zero_scalars(true)
	if autoreset == P.AUTORESET_NONE:
		return
	var first_set := _out.find(1.0, _te)  # a native scan for a set flag, no copy (values past the flags only end it)
	if first_set < 0 or first_set >= _flags_end or _env.has_failed():
		return
	if autoreset == P.AUTORESET_SAME_STEP:
		_same_step_autoreset()
	elif autoreset == P.AUTORESET_NEXT_STEP:
		var out := _out
		var te := _te
		var tr := _tr
		for i in _n:
			if out[te + i] != 0.0 or out[tr + i] != 0.0:
				finished[i] = 1
				_n_finished += 1


## Steps taken in agent i's current episode.
func episode_steps(i: int) -> int:
	return clock_due[0] - _start[i]


## Marks truncated every agent whose episode reached the step limit; makes clock_due[1] exact.
func _truncate_at_limit() -> void:
	var out := _out
	var tr := _tr
	var clock := clock_due[0]
	var last := clock - _limit  # agents that started at or before this step reached the limit
	var lowest := clock
	for i in _n:
		var s := _start[i]
		if s <= last:
			out[tr + i] = 1.0
		if s < lowest:
			lowest = s
	clock_due[1] = lowest + _limit


## True when agent i's episode ended in this step (out holds its flags).
func done(i: int) -> bool:
	return _out[_te + i] != 0.0 or _out[_tr + i] != 0.0


## True when some agent's episode ended in this step (out holds the flags).
func any_done() -> bool:
	return _flag_set(_out, _te, _tr + _n)


## True when a 1.0 (a set flag) is in out[from, to): a native scan with no copy (a slice
## allocated and copied on every step); values past `to` only end the scan.
static func _flag_set(out: PackedFloat32Array, from: int, to: int) -> bool:
	var at := out.find(1.0, from)
	return at >= 0 and at < to


## SAME_STEP after the parts of a Dict observation were read (GymObservationParts): what
## finish_step(AUTORESET_SAME_STEP) does for the `out` part.
func same_step_autoreset() -> void:
	_same_step_autoreset()


## SAME_STEP: keep the last observation of finished agents in final obs, reset them, and report
## their first observation with this step's reward and flags.
func _same_step_autoreset() -> void:
	var out := _out
	var d := _d
	var te := _te
	var tr := _tr
	var keep := out.slice(_r, _fo)  # rewards and flags of this step
	for i in _n:
		if out[te + i] != 0.0 or out[tr + i] != 0.0:  # done(i) inline: a script call per agent less
			var base := i * d
			for j in d:
				out[_fo + base + j] = out[base + j]
			_restart(i)
	_env._gym_observe()
	for k in keep.size():
		out[_r + k] = keep[k]


func _restart(i: int) -> void:
	_env._gym_reset(i)
	_start[i] = clock_due[0]
	if finished[i] != 0:
		finished[i] = 0
		_n_finished -= 1


## Zeroes the per-agent scalars (reward, terminated, truncated: GymProtocol.OUT_SCALARS blocks of
## n after the observations) of every agent (`only_restarted`: of those at step 0).
func _zero_scalars(only_restarted: bool) -> void:
	var out := _out
	var n := _n
	var clock := clock_due[0]
	for i in n:
		if only_restarted and _start[i] != clock:
			continue
		for k in P.OUT_SCALARS:
			out[_r + k * n + i] = 0.0
