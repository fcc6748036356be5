## The trivial env's AIController (godot_rl_agents' "extend script" methods): 4-float observation,
## one continuous action of size 2.
extends AIController3D

var a0 := 0.0  # the action, read by the game node (trivial_player.gd)
var a1 := 0.0


func get_obs() -> Dictionary:
	return {"obs": _player.obs}


func get_reward() -> float:
	return reward


func get_action_space() -> Dictionary:
	return {"move": {"size": 2, "action_type": "continuous"}}


func set_action(action) -> void:
	a0 = action["move"][0]
	a1 = action["move"][1]
