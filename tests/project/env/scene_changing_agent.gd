## An agent whose action 1 changes the scene (a game-over screen), freeing the GymEnv node
## (tests/env/test_scene_setting_errors.py).
extends Node


func reset_agent(_rng: RandomNumberGenerator) -> void:
	pass


func apply_action(action) -> void:
	if int(action) == 1:
		get_tree().change_scene_to_file.call_deferred("res://env/discrete_agent.tscn")


func get_observation() -> PackedFloat32Array:
	return PackedFloat32Array([0.0])


func get_reward() -> float:
	return 0.0


func is_terminated() -> bool:
	return false
