## An agent whose callbacks answer with the wrong types (tests/env/test_scene_setting_errors.py):
## `answer` picks the mistake.
extends Node

@export_enum("null_observation", "string_observation", "string_reward") var answer := 0


func reset_agent(_rng: RandomNumberGenerator) -> void:
	pass


func apply_action(_action) -> void:
	pass


func get_observation():
	return [null, ["a", "b"], PackedFloat32Array([1, 2])][answer]


func get_reward():
	return "high" if answer == 2 else 0.0


func is_terminated() -> bool:
	return false
