## A discrete observation part of one agent: gymnasium [code]Discrete(n)[/code] (an int in
## 0..n-1), or [code]MultiDiscrete(nvec)[/code] when [member nvec] is set (one int per entry, each
## in 0..nvec[i]-1). Game code sets [member value] / [member values] (or a subclass overrides
## [method measure]); GymEnv.observation_parts carries it as an int32 tensor batched over agents,
## and Python sees the matching space. Not spatial: put it anywhere under the agent.
class_name DiscreteSensor
extends Node

## The number of values of a Discrete part (used when [member nvec] is empty).
@export_range(1, 1 << 30) var n: int = 2
## The sizes of a MultiDiscrete part; empty: a Discrete part of [member n] values.
@export var nvec := PackedInt32Array()
## The observation of a Discrete part.
var value := 0
## The observation of a MultiDiscrete part (one per entry of [member nvec]).
var values := PackedInt32Array()


## The part's space for the spec: {"n": n} or {"nvec": [...]}.
func get_space() -> Dictionary:
	return {"nvec": Array(nvec)} if not nvec.is_empty() else {"n": n}


## () for Discrete, (len(nvec),) for MultiDiscrete.
func get_shape() -> PackedInt32Array:
	return PackedInt32Array() if nvec.is_empty() else PackedInt32Array([nvec.size()])


func get_dtype() -> String:
	return "int32"


## The observation as ints (1 for Discrete, len(nvec) for MultiDiscrete); empty, with an error
## naming the sensor and the value, when a value is outside its range.
func measure() -> PackedInt32Array:
	if nvec.is_empty():
		if value < 0 or value >= n:
			push_error("DiscreteSensor '%s': value %d is outside Discrete(%d) (0..%d)" % [name, value, n, n - 1])
			return PackedInt32Array()
		return PackedInt32Array([value])
	if values.size() != nvec.size():
		push_error("DiscreteSensor '%s': %d values for MultiDiscrete(%s) (set values to %d ints)" % [name, values.size(), nvec, nvec.size()])
		return PackedInt32Array()
	for i in nvec.size():
		if values[i] < 0 or values[i] >= nvec[i]:
			push_error("DiscreteSensor '%s': values[%d] = %d is outside 0..%d (nvec %s)" % [name, i, values[i], nvec[i] - 1, nvec])
			return PackedInt32Array()
	return values
