## A contextual bandit with discrete observation parts (tests/env/test_discrete_parts.py): the
## agent sees a target in 0..3 (part `target`, Discrete(4)) and a hint (part `hint`,
## MultiDiscrete([4, 2]): the target and its parity); acting the target pays 1, anything else 0,
## then a new target is drawn. `state` (observation_size 1) is the fraction of the episode done.
## The scene's `bad_value` meta makes the target sensor report a value outside its range.
extends Node3D

var _rng: RandomNumberGenerator
var _reward := 0.0
var _steps := 0
@onready var _target: DiscreteSensor = $Target
@onready var _hint: DiscreteSensor = $Hint


func reset_agent(rng: RandomNumberGenerator) -> void:
	_rng = rng
	_reward = 0.0
	_steps = 0
	_draw()


func _draw() -> void:
	var t := _rng.randi_range(0, 3)
	_target.value = 7 if get_parent().has_meta("bad_value") else t
	_hint.values = PackedInt32Array([t, t % 2])


func apply_action(action: int) -> void:
	_reward = 1.0 if action == _hint.values[0] else 0.0
	_steps += 1
	_draw()


func get_observation() -> PackedFloat32Array:
	return PackedFloat32Array([_steps / 10.0])


func get_reward() -> float:
	return _reward


func is_terminated() -> bool:
	return false
