## The trivial environment: no physics, observations are exact functions of the actions, so tests
## can assert numbers and the benchmark measures the protocol itself. Batched API (fast path).
##
## Per agent, with a = (a0, a1) in [-1, 1]^2 applied on each physics tick of a step:
##   reset:        obs = [u0, u1, 0, 0] with u0, u1 ~ U(-1, 1) from the seeded rng
##   step:         obs = [a0, a1, sum, ticks]   sum = sum over ticks since reset of (a0 + a1)
##   reward:       a0 - 0.5 * a1
##   terminated:   sum >= 10;  truncated: after max_episode_steps steps (GymEnv)
##
## The observation is an agent's whole state, so the state lives in `out` itself: _gym_act writes
## each agent's observation, reward and flags in one pass, and _gym_observe has nothing left to do
## (a second pass over the agents would cost as much again: GDScript pays per indexed access).
extends GymEnv


func _gym_reset(i: int) -> void:
	var o := 4 * i
	out[o] = rng.randf_range(-1.0, 1.0)
	out[o + 1] = rng.randf_range(-1.0, 1.0)
	out[o + 2] = 0.0
	out[o + 3] = 0.0


func _gym_act(acts: PackedFloat32Array) -> void:
	var buf := out  # the same array (packed arrays are shared by reference), read from a local
	var r := reward_offset
	var te := terminated_offset
	var tr := truncated_offset
	var o := 0
	var j := 0
	for i in n_agents:
		var a0 := acts[j]
		var a1 := acts[j + 1]
		var s := buf[o + 2] + (a0 + a1)
		buf[o] = a0
		buf[o + 1] = a1
		buf[o + 2] = s
		buf[o + 3] += 1.0
		buf[r + i] = a0 - 0.5 * a1
		buf[te + i] = 1.0 if s >= 10.0 else 0.0
		buf[tr + i] = 0.0  # GymEnv sets it at the step limit
		o += 4
		j += 2


func _gym_observe() -> void:
	pass  # _gym_act and _gym_reset keep the observations in `out`
