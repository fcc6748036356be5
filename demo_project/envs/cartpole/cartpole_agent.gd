## One cart-pole, simulated by Godot's 2D physics: a RigidBody2D cart sliding on a rail
## (GrooveJoint2D to a StaticBody2D) and a RigidBody2D pole on a PinJoint2D. 100 px = 1 m.
## Classic control constants: cart 1 kg, pole 0.1 kg and 1 m long, push +-10 N, 50 Hz ticks.
##
## observation: [cart x (m), cart velocity (m/s), pole angle (rad, 0 = upright), pole angular velocity (rad/s)]
## action:      0 = push left, 1 = push right
## reward:      +1 per step; terminated when |x| > 2.4 m or |angle| > 12 degrees
##
## The agent implements GymEnv's per-agent callbacks (used by cartpole_simple.tscn, a plain
## GymEnv); cartpole.tscn uses cartpole_env.gd, the same logic batched over all agents.
class_name CartPoleAgent
extends Node2D

const PX_PER_M := 100.0
const FORCE_N := 10.0
const X_LIMIT := 2.4
const ANGLE_LIMIT := 12.0 * PI / 180.0
const POLE_HALF_PX := 50.0
const RAIL_HALF_PX := 320.0

@onready var cart: RigidBody2D = $Cart
@onready var pole: RigidBody2D = $Pole
@onready var rail: StaticBody2D = $Rail
@onready var pin: PinJoint2D = $Cart/Pin
@onready var groove: GrooveJoint2D = $Groove

var _force := 0.0


func reset_agent(rng: RandomNumberGenerator) -> void:
	var x := rng.randf_range(-0.05, 0.05)
	var v := rng.randf_range(-0.05, 0.05)
	var theta := rng.randf_range(-0.05, 0.05)
	var omega := rng.randf_range(-0.05, 0.05)
	var cart_pos := Vector2(x * PX_PER_M, 0.0)
	var cart_vel := Vector2(v * PX_PER_M, 0.0)
	var r := Vector2(sin(theta), -cos(theta)) * POLE_HALF_PX  # pivot -> pole centre
	_set_body(cart, Transform2D(0.0, cart_pos), cart_vel, 0.0)
	_set_body(pole, Transform2D(theta, cart_pos + r), cart_vel + Vector2(-r.y, r.x) * omega, omega)
	# Fresh joints: no accumulated impulses from the previous episode (same seed -> same episode).
	var gt := global_transform
	PhysicsServer2D.joint_make_pin(pin.get_rid(), gt * cart_pos, cart.get_rid(), pole.get_rid())
	PhysicsServer2D.joint_make_groove(groove.get_rid(), gt * Vector2(-RAIL_HALF_PX, 0.0), gt * Vector2(RAIL_HALF_PX, 0.0),
		gt * cart_pos, rail.get_rid(), cart.get_rid())
	_force = 0.0


func _set_body(body: RigidBody2D, local: Transform2D, velocity: Vector2, spin: float) -> void:
	var xform := global_transform * local
	PhysicsServer2D.body_set_state(body.get_rid(), PhysicsServer2D.BODY_STATE_TRANSFORM, xform)
	PhysicsServer2D.body_set_state(body.get_rid(), PhysicsServer2D.BODY_STATE_LINEAR_VELOCITY, velocity)
	PhysicsServer2D.body_set_state(body.get_rid(), PhysicsServer2D.BODY_STATE_ANGULAR_VELOCITY, spin)
	body.global_transform = xform
	body.linear_velocity = velocity
	body.angular_velocity = spin


func apply_action(action: int) -> void:
	_force = FORCE_N if action == 1 else -FORCE_N
	cart.apply_central_force(Vector2(_force * PX_PER_M, 0.0))


func get_observation() -> PackedFloat32Array:
	return PackedFloat32Array([
		cart.position.x / PX_PER_M,
		cart.linear_velocity.x / PX_PER_M,
		wrapf(pole.rotation, -PI, PI),
		pole.angular_velocity,
	])


func get_reward() -> float:
	return 1.0


func is_terminated() -> bool:
	return absf(cart.position.x) > X_LIMIT * PX_PER_M or absf(wrapf(pole.rotation, -PI, PI)) > ANGLE_LIMIT
