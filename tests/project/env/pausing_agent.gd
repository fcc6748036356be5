## An agent whose action 1 takes the scene out of stepping, as games do at a game over
## (tests/env/test_scene_setting_errors.py): `leave` "pause" pauses the scene tree (a pause
## menu), "change_scene" changes the scene, freeing the GymEnv node.
extends Node

@export_enum("pause", "change_scene") var leave := "pause"


func reset_agent(_rng: RandomNumberGenerator) -> void:
	pass


func apply_action(action) -> void:
	if int(action) != 1:
		return
	if leave == "pause":
		get_tree().paused = true
	else:
		get_tree().change_scene_to_file.call_deferred("res://env/discrete_agent.tscn")


func get_observation() -> PackedFloat32Array:
	return PackedFloat32Array([0.0])


func get_reward() -> float:
	return 0.0


func is_terminated() -> bool:
	return false
