## Reach whose tile is a physics body drifting at a constant velocity (tests/render/test_dict_env.py):
## with image parts, a PHYSICS step must still take exactly `action_repeat` physics ticks (the
## frame drawn after the step runs with physics paused) and its pixels must show the bodies where
## its observation says they are.
extends "reach_agent.gd"

const DRIFT := Vector3(5.0, 0, 0)  # units per second: 0.1 per tick at the project's 50 ticks/s

var drifter: RigidBody3D


func _ready() -> void:
	super()
	tile.visible = false
	drifter = RigidBody3D.new()
	drifter.gravity_scale = 0.0
	drifter.linear_damp_mode = RigidBody3D.DAMP_MODE_REPLACE
	drifter.linear_damp = 0.0
	drifter.can_sleep = false
	var shape := CollisionShape3D.new()
	shape.shape = SphereShape3D.new()
	drifter.add_child(shape)
	drifter.add_child(_flat_box(Vector3(1.2, 0.04, 1.2), TILE_COLOR, 0.02))
	add_child(drifter)


func reset_agent(rng: RandomNumberGenerator) -> void:
	super(rng)
	drifter.position = Vector3(tile.position.x, 0, tile.position.z)
	drifter.linear_velocity = DRIFT


func get_observation() -> PackedFloat32Array:
	return PackedFloat32Array([body.position.x, body.position.z, drifter.position.x, drifter.position.z])
