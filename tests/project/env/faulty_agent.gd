## An agent that misbehaves on demand, so tests can check that engine errors reach Python.
##   action 0: nothing wrong;  1: a script error (a method called on null);
##   2: push_error("faulty agent: custom problem 42");  3: 25 push_errors in one step, and the
##   next reset_agent() pushes "faulty agent: error during reset".
## Observation: [the last action]; reward 1 per step; never terminates.
extends Node

var last := 0
var missing: Node = null


func reset_agent(_rng: RandomNumberGenerator) -> void:
	if last == 3:
		push_error("faulty agent: error during reset")
	last = 0


func apply_action(action: int) -> void:
	last = action
	if action == 1:
		missing.queue_free()
	elif action == 2:
		push_error("faulty agent: custom problem 42")
	elif action == 3:
		for k in 25:
			push_error("faulty agent: flood %d" % k)


func get_observation() -> PackedFloat32Array:
	return PackedFloat32Array([float(last)])


func get_reward() -> float:
	return 1.0


func is_terminated() -> bool:
	return false
