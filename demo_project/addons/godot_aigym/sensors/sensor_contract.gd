## What [Sensor2D] and [Sensor3D] share (they must extend Node2D and Node3D, so they cannot
## share a base class): the error of a missing override and the size of an observation.
class_name SensorContract
extends RefCounted


## Reports that [param sensor], a subclass of [param base], does not implement [param method].
static func unimplemented(sensor: Node, base: String, method: String) -> void:
	push_error("%s: a %s subclass must implement %s()" % [sensor.name, base, method])


## Number of values an observation of [param shape] holds (the product of its dimensions).
static func size_of(shape: PackedInt32Array) -> int:
	var n := 1
	for d in shape:
		n *= d
	return n
