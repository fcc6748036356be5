## The trivial environment: no physics, observations are exact functions of the actions, so tests
## can assert numbers and the benchmark measures the protocol itself. Batched API (fast path).
##
## Per agent, with a = (a0, a1) in [-1, 1]^2 applied on each physics tick of a step:
##   reset:        obs = [u0, u1, 0, 0] with u0, u1 ~ U(-1, 1) from the seeded rng
##   step:         obs = [a0, a1, sum, ticks]   sum = sum over ticks since reset of (a0 + a1)
##   reward:       a0 - 0.5 * a1
##   terminated:   sum >= 10;  truncated: after max_episode_steps steps (GymEnv)
extends GymEnv

var _a0 := PackedFloat32Array()
var _a1 := PackedFloat32Array()
var _sum := PackedFloat32Array()
var _ticks := PackedInt32Array()


func _gym_setup() -> void:
	_a0.resize(n_agents)
	_a1.resize(n_agents)
	_sum.resize(n_agents)
	_ticks.resize(n_agents)


func _gym_reset(i: int) -> void:
	_a0[i] = rng.randf_range(-1.0, 1.0)
	_a1[i] = rng.randf_range(-1.0, 1.0)
	_sum[i] = 0.0
	_ticks[i] = 0


func _gym_act(acts: PackedFloat32Array) -> void:
	for i in n_agents:
		var a0 := acts[2 * i]
		var a1 := acts[2 * i + 1]
		_a0[i] = a0
		_a1[i] = a1
		_sum[i] += a0 + a1
		_ticks[i] += 1


func _gym_observe() -> void:
	for i in n_agents:
		var o := 4 * i
		var a0 := _a0[i]
		var a1 := _a1[i]
		var s := _sum[i]
		out[o] = a0
		out[o + 1] = a1
		out[o + 2] = s
		out[o + 3] = _ticks[i]
		out[reward_offset + i] = a0 - 0.5 * a1
		out[terminated_offset + i] = 1.0 if s >= 10.0 else 0.0
		out[truncated_offset + i] = 0.0
