## GymDictInput: a Dict observation without images as the one flat float vector per agent that
## play mode feeds to cTorchModel, encoded as Stable-Baselines3's MultiInputPolicy sees it
## (CombinedExtractor over preprocess_obs): the parts in sorted name order (gymnasium's Dict key
## order), each flattened: float boxes (and the `state` part from get_observation()) as they are,
## a Discrete(n) part one-hot in n floats, a MultiDiscrete(nvec) part one one-hot per entry,
## concatenated (sum(nvec) floats). Python's twin: godot_aigym.env.observations.flat_policy_input.
class_name GymDictInput
extends RefCounted

## Floats per agent.
var size := 0
var _entries: Array = []  # [name, kind, offset in the vector, part Dictionary or null for `state`]
var _x := PackedFloat32Array()


## Lays out the parts of [param env] (a GymEnv with observation_parts); "" or what is wrong.
func setup(env: Node, parts: Array) -> String:
	var by_name := {}
	for part in parts:
		if part["kind"] == "image":
			return "images go to the policy as the one image part (see GymPlayer)"
		by_name[part["name"]] = part
	if env.obs_dim > 0:
		by_name[env.state_part] = null
	var names: Array = by_name.keys()
	names.sort()
	for name in names:
		var part = by_name[name]
		var kind: String = "state" if part == null else part["kind"]
		_entries.append([name, kind, size, part])
		size += _width(env, kind, part)
	return ""


func _width(env: Node, kind: String, part) -> int:
	match kind:
		"state":
			return env.obs_dim
		"discrete":
			return part["space"]["n"]
		"multi_discrete":
			var total := 0
			for k in part["space"]["nvec"]:
				total += int(k)
			return total
	return part["size"]


## The part names in input order, with their kinds (for error messages).
func describe() -> String:
	var items := PackedStringArray()
	for e in _entries:
		items.append("%s (%s)" % [e[0], e[1]])
	return ", ".join(items)


## Every agent's vector, agent after agent; empty (after env.fail) when a sensor gave nothing.
func encode(env: Node) -> PackedFloat32Array:
	var n: int = env.n_agents
	_x.resize(n * size)
	_x.fill(0.0)
	var d: int = env.obs_dim
	for e in _entries:
		var kind: String = e[1]
		for i in n:
			var base: int = i * size + e[2]
			if kind == "state":
				for j in d:
					_x[base + j] = env.out[i * d + j]
				continue
			var values = e[3]["sensors"][i].measure()
			if values.size() != e[3]["size"]:
				env.fail("play: observation part '%s' gave %d values, not %d (the sensor said why above)" % [e[0], values.size(), e[3]["size"]])
				return PackedFloat32Array()
			if kind == "box":
				for j in values.size():
					_x[base + j] = values[j]
			elif kind == "discrete":
				_x[base + values[0]] = 1.0
			else:  # multi_discrete: one one-hot block per entry of nvec
				var nvec: Array = e[3]["space"]["nvec"]
				for j in nvec.size():
					_x[base + values[j]] = 1.0
					base += int(nvec[j])
	return _x
