## One agent of the dials environment: a combination lock with `DIALS` dials of 0..9 and a
## secret code drawn at reset. A MultiDiscrete action turns every dial at once: per dial
## 0 = one step down, 1 = leave it, 2 = one step up (the dials stop at 0 and 9).
##   observation:  (position - code) / 9 per dial, in [-1, 1]
##   reward:       -(sum of |position - code|) / 9 per step, 0 once the lock is open
##   terminated:   every dial shows its code
## Exact integer dynamics, so tests can predict every number.
extends Node

const DIALS := 3

var position := PackedInt32Array()
var code := PackedInt32Array()


func reset_agent(rng: RandomNumberGenerator) -> void:
	position.resize(DIALS)
	code.resize(DIALS)
	for j in DIALS:
		position[j] = rng.randi_range(0, 9)
		code[j] = rng.randi_range(0, 9)


func apply_action(action: PackedInt32Array) -> void:
	for j in DIALS:
		position[j] = clampi(position[j] + action[j] - 1, 0, 9)


func get_observation() -> PackedFloat32Array:
	var o := PackedFloat32Array()
	o.resize(DIALS)
	for j in DIALS:
		o[j] = (position[j] - code[j]) / 9.0
	return o


func get_reward() -> float:
	var distance := 0
	for j in DIALS:
		distance += absi(position[j] - code[j])
	return -distance / 9.0


func is_terminated() -> bool:
	return position == code
