## ErrorWatch: collects the errors the engine logs (script errors, push_error, engine errors)
## while GymEnv serves Python, so that they reach the host instead of only the engine's log.
## A Logger subclass (Godot >= 4.5; GymTransport loads this file only where Logger exists, and
## hands what take() returns to the host in the error_texts message, docs/STEP_PROTOCOL.md).
## _log_error may run on any thread, hence the mutex; `count` is read without it (a hint).
extends Logger

const MAX_KEPT := 20

var count := 0
## count, where GymTransport reads it on every step without a property lookup (shared array)
var logged := PackedInt32Array([0])
var _messages := PackedStringArray()
var _mutex := Mutex.new()


func _log_error(function: String, file: String, line: int, code: String, rationale: String,
		_editor_notify: bool, error_type: int, script_backtraces: Array[ScriptBacktrace]) -> void:
	if error_type == ERROR_TYPE_WARNING or _shader_cache_miss(function, file):
		return
	var what := rationale if rationale != "" else code
	var where := "%s:%d, %s" % [file, line, function]
	for bt in script_backtraces:  # push_error & co: the script line, not the engine's C++ one
		if bt.get_frame_count() > 0:
			where = "%s:%d, %s" % [bt.get_frame_file(0), bt.get_frame_line(0), bt.get_frame_function(0)]
			break
	var text := "%s (%s)" % [what, where]
	_mutex.lock()
	if _messages.size() < MAX_KEPT:
		_messages.append(text)
	count += 1
	logged[0] = count
	_mutex.unlock()


## Godot's compatibility renderer failing to read or write a shader cache file (one an engine
## killed mid-write, or another engine of the project writing it now, left half-written) compiles
## the shader from source instead: not an error of the game. As engine_errors.cpp.
static func _shader_cache_miss(function: String, file: String) -> bool:
	return file.ends_with("drivers/gles3/shader_gles3.cpp") and function in ["_load_from_cache", "_save_to_cache"]


## The errors since the last call (at most MAX_KEPT texts) and how many there were in all.
func take() -> Array:
	_mutex.lock()
	var result := [_messages, count]
	_messages = PackedStringArray()
	count = 0
	logged[0] = 0
	_mutex.unlock()
	return result
