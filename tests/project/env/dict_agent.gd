## An agent for Dict-observation error tests (tests/render/test_dict_errors.py): no game, its
## sensor children are configured by the scenes.
extends Node3D


func reset_agent(_rng: RandomNumberGenerator) -> void:
	pass


func apply_action(_action) -> void:
	pass


func get_observation() -> PackedFloat32Array:
	return PackedFloat32Array()


func get_reward() -> float:
	return 0.0


func is_terminated() -> bool:
	return false
