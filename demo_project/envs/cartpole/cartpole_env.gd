## The cart-pole environment, batched: the same rules as CartPoleAgent's per-agent callbacks
## (cartpole_simple.tscn runs those; a test checks both give identical episodes), written as
## one loop over all agents, which is what makes 16 agents cost little more than one.
## Resets stay per agent (CartPoleAgent.reset_agent, via GymEnv's default _gym_reset).
extends GymEnv

var _carts: Array[RigidBody2D] = []
var _poles: Array[RigidBody2D] = []


func _gym_setup() -> void:
	for agent in agents:
		_carts.append(agent.cart)
		_poles.append(agent.pole)


func _gym_act(acts: PackedFloat32Array) -> void:
	var push := Vector2(CartPoleAgent.FORCE_N * CartPoleAgent.PX_PER_M, 0.0)
	for i in n_agents:
		_carts[i].apply_central_force(push if acts[i] >= 0.5 else -push)


func _gym_observe() -> void:
	const PX := CartPoleAgent.PX_PER_M
	const X_LIMIT := CartPoleAgent.X_LIMIT
	const ANGLE_LIMIT := CartPoleAgent.ANGLE_LIMIT
	# Locals instead of member lookups: this loop runs for every agent on every step.
	var r := reward_offset
	var te := terminated_offset
	var tr := truncated_offset
	var o := 0
	for i in n_agents:
		var cart := _carts[i]
		var pole := _poles[i]
		var x := cart.position.x / PX
		var theta := wrapf(pole.rotation, -PI, PI)
		out[o] = x
		out[o + 1] = cart.linear_velocity.x / PX
		out[o + 2] = theta
		out[o + 3] = pole.angular_velocity
		out[r + i] = 1.0
		out[te + i] = 1.0 if absf(x) > X_LIMIT or absf(theta) > ANGLE_LIMIT else 0.0
		out[tr + i] = 0.0
		o += 4
