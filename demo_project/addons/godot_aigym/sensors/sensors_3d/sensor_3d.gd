## Base of the 3D sensors: a node placed under an agent that observes from its own transform.
## Each sensor says what it produces ([method get_shape], [method get_dtype]) so an agent can
## declare its observation once.
class_name Sensor3D
extends Node3D


## The shape of one observation of this sensor (H, W, C for cameras; (N,) for raycasts).
func get_shape() -> PackedInt32Array:
	SensorContract.unimplemented(self, "Sensor3D", "get_shape")
	return PackedInt32Array()


## "uint8" for images, "float32" for measurements.
func get_dtype() -> String:
	SensorContract.unimplemented(self, "Sensor3D", "get_dtype")
	return ""


## Number of values one observation holds (the product of [method get_shape]).
func get_size() -> int:
	return SensorContract.size_of(get_shape())
