## A test agent for agent-node groups: its observation is its value repeated (as many times as its
## group observes), each action adds to the value (a box's or multi-discrete's first entry + 10 x
## the second, a discrete index as is); reward = the value; terminated at 20 or more.
extends Node

var value := 0.0


func reset_agent(rng: RandomNumberGenerator) -> void:
	value = rng.randi_range(0, 9)


func apply_action(action) -> void:
	if action is int:
		value += action
	else:
		value += action[0] + 10 * action[1]


func get_observation() -> PackedFloat32Array:
	var o := PackedFloat32Array()
	o.resize(get_parent().observation_size)
	o.fill(value)
	return o


func get_reward() -> float:
	return value


func is_terminated() -> bool:
	return value >= 20.0
