extends Node2D
# The pendulum of GodotAIGym's InvPendulum example (there a RigidBody2D), integrated here
# with a fixed step so that the test can recompute every value the game sends.

const G_OVER_L = 10.0
const INIT_THETA = 1.0
const INIT_OMEGA = 0.0

var torque = 0.0
var theta = INIT_THETA
var omega = INIT_OMEGA


func reset_state():
	theta = INIT_THETA
	omega = INIT_OMEGA
	torque = 0.0
	rotation = theta


func advance(dt):
	omega += (-G_OVER_L * sin(theta) + torque) * dt
	theta += omega * dt
	rotation = theta


func get_observation():
	return [cos(theta), sin(theta), omega]


func get_reward():
	var th = fmod(theta + PI, 2 * PI) - PI
	return -(th * th + .1 * omega * omega + .001 * torque * torque)
