## GymArgs: the command-line options GymEnv understands, from Godot's arguments and the user
## arguments after "--": "--key value", "--key=value" or a bare "--flag" (value "").
##   remote (given by Python): --handle --n-agents --env-prefix --physics-fps --seed
##       --action-repeat --max-episode-steps --spin-us
##   play: --play --random --policy PATH --play-episodes N --seed
class_name GymArgs
extends RefCounted


static func parse(argv: PackedStringArray = OS.get_cmdline_args() + OS.get_cmdline_user_args()) -> Dictionary:
	var parsed := {}
	var i := 0
	while i < argv.size():
		var a: String = argv[i]
		if a.begins_with("--"):
			var key := a.substr(2)
			if key.contains("="):
				parsed[key.get_slice("=", 0)] = key.get_slice("=", 1)
			elif i + 1 < argv.size() and not argv[i + 1].begins_with("--"):
				parsed[key] = argv[i + 1]
				i += 1
			else:
				parsed[key] = ""
		i += 1
	return parsed


## The integer value of `key`, or `default` when absent; `error` names a malformed value.
static func int_value(args: Dictionary, key: String, default: int) -> int:
	if not args.has(key):
		return default
	var text := str(args[key])
	if not text.is_valid_int():
		push_error("GymEnv: --%s must be an integer, got '%s'" % [key, text])
		return default
	return text.to_int()
