## demo_project/envs/trivial/trivial_env.gd written the way godot_rl_agents' docs have a user write
## an env: the game node keeps the state and applies the action of its AIController child on each
## physics tick; the controller reports observation, reward and done to the Sync node.
##   reset: obs = [u0, u1, 0, 0], u ~ U(-1, 1);  step: obs = [a0, a1, sum, ticks]
##   reward: a0 - 0.5 * a1;  done (terminated): sum >= 10
extends Node3D

@onready var ai_controller: Node3D = $AIController3D

var obs: Array = [0.0, 0.0, 0.0, 0.0]


func _ready() -> void:
	ai_controller.init(self)
	_reset()


func _reset() -> void:
	obs = [randf_range(-1.0, 1.0), randf_range(-1.0, 1.0), 0.0, 0.0]


func _physics_process(_delta: float) -> void:
	if ai_controller.needs_reset:  # set by Sync on a reset message, or by us when done
		ai_controller.reset()
		_reset()
		return
	var a0: float = ai_controller.a0
	var a1: float = ai_controller.a1
	var s: float = obs[2] + (a0 + a1)
	obs = [a0, a1, s, obs[3] + 1.0]
	ai_controller.reward += a0 - 0.5 * a1
	if s >= 10.0:
		ai_controller.done = true
		ai_controller.needs_reset = true
