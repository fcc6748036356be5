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


## The integer value of `key`, or `default` when absent or malformed (int_error names it).
static func int_value(args: Dictionary, key: String, default: int) -> int:
	if not args.has(key) or int_error(args, key) != "":
		return default
	return str(args[key]).to_int()


## "" when `key` is absent or a 64-bit integer of at least `low`; else what is wrong, naming it. A
## typo or an overflow must not run the game with another value than the one asked for (Godot's
## to_int clamps "99999999999999999999" to 2^63 - 1, and a malformed value would be the default).
static func int_error(args: Dictionary, key: String, low: int = -0x7fffffffffffffff - 1) -> String:
	if not args.has(key):
		return ""
	var text := str(args[key])
	var digits := text.trim_prefix("+").trim_prefix("-").lstrip("0")
	var limit := "9223372036854775808" if text.begins_with("-") else "9223372036854775807"
	if not text.is_valid_int():
		return "--%s must be an integer, got '%s'" % [key, text]
	if digits.length() > 19 or (digits.length() == 19 and digits > limit):
		return "--%s %s does not fit a 64-bit integer" % [key, text]
	if text.to_int() < low:
		return "--%s must be at least %d, got %s" % [key, low, text]
	return ""
