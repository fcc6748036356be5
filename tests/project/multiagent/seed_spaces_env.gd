## A batched GymGroupEnv whose group observes 2 + (seed % 2) values: engines started with
## different seeds declare different spaces (the host must refuse to batch them).
extends GymGroupEnv


func _ready() -> void:
	var args := GymArgs.parse()
	$Team.observation_size = 2 + GymArgs.int_value(args, "seed", 0) % 2
	super._ready()


func _gym_reset(_i: int) -> void:
	pass


func _gym_act(_acts: PackedFloat32Array) -> void:
	pass


func _gym_observe() -> void:
	pass
