## GymTransport: the shared-memory side of the step protocol (docs/STEP_PROTOCOL.md), and the
## only GDScript that reads or writes its tensors. GymEnv asks it for the next command and hands
## it the answer; messages (spec, fatal error, per-command error texts) each have a tensor of
## their own, written framed (u32 length + UTF-8 JSON).
class_name GymTransport
extends RefCounted

const P := preload("gym_protocol.gd")
const MAX_TEXT := 600  # characters kept of one error text

## The command read by wait_command(), its flags, and (STEP) the actions of every agent: one
## array, refilled in place by every STEP (read_into: no allocation, no slice per step).
var command := 0
var flags := 0
var actions := PackedFloat32Array()
## Why wait_command() failed, when it was not the host quitting ("" otherwise).
var error := ""

var _mem: cSharedMemory
var _prefix := P.DEFAULT_PREFIX
var _sem_action: cSharedMemorySemaphore
var _sem_obs: cSharedMemorySemaphore
var _spec: cPersistentUintTensor
var _fatal: cPersistentUintTensor
var _error_texts: cPersistentUintTensor
var _errors: cPersistentIntTensor
var _seed: cPersistentIntTensor
var _in: cPersistentFloatTensor
var _out: cPersistentFloatTensor
var _header := PackedFloat32Array()  # the command header of `in`, refilled per command
var _actions_at := 0  # where the actions start in `in`
var _n_agents := 0
var _action_width := 0
var _out_size := 0
var _part_sizes: Array = []  # [name, kind, total size] of the Dict parts with tensors of their own
var _parts := {}  # part name -> [obs tensor, final obs tensor]
var _frame: cPersistentUintTensor
## (height, width) of render() frames ([] when the engine renders nothing).
var frame_shape: Array = []
var _published := false  # the spec is out: the host waits for answers, not for start-up
var _watch: RefCounted = null  # an ErrorWatch (error_watch.gd) where Godot has Logger (>= 4.5)
## The ErrorWatch's count of errors logged during the command ([0] > 0: answer() reports them):
## shared, so the step loop checks it without a call.
var logged := PackedInt32Array([0])
## A STEP's wait and actions, and its answer, in one native call each (set with the step tensors,
## at the first command): the step loop's lean path; answer() when errors were logged.
var channel: cStepChannel = null


## Attaches to the chunk named by --handle and finds the start-up entries; "" or what is wrong.
func attach(prefix: String, spin_us: int) -> String:
	_prefix = prefix
	_mem = cSharedMemory.new()
	if not _mem.exists():
		return "could not attach to the shared memory named by --handle"
	_sem_action = _mem.findSemaphore(_prefix + "sem_action")
	_sem_obs = _mem.findSemaphore(_prefix + "sem_obs")
	_spec = _mem.findUintTensor(_prefix + "spec")
	_fatal = _mem.findUintTensor(_prefix + "fatal")
	_error_texts = _mem.findUintTensor(_prefix + "error_texts")
	_errors = _mem.findIntTensor(_prefix + "errors")
	_seed = _mem.findIntTensor(_prefix + "seed")
	for found in [_sem_action, _sem_obs, _spec, _fatal, _error_texts, _errors, _seed]:
		if found == null:
			return "the shared memory lacks the environment entries with prefix '%s' (protocol %d)" % [_prefix, P.VERSION]
	if spin_us >= 0:
		_sem_action.spin_us = spin_us
	if ClassDB.class_exists(&"Logger"):
		# beside this file; load(), not preload(): error_watch.gd does not parse where Logger does not exist
		var here: Script = preload("gym_transport.gd")
		_watch = load(here.resource_path.get_base_dir().path_join("error_watch.gd")).new()
		logged = _watch.logged
		OS.call(&"add_logger", _watch)
	return ""


## Publishes the space description (start-up) for the host; `n_agents`, `action_width` and
## `out_size` are what the step tensors must hold, `part_sizes` [name, kind, size] the Dict parts'
## own tensors (GymObservationParts.tensor_sizes). "" or what is wrong.
func publish_spec(spec: Dictionary, n_agents: int, action_width: int, out_size: int, part_sizes: Array = []) -> String:
	_part_sizes = part_sizes
	_n_agents = n_agents
	_action_width = action_width
	_out_size = out_size
	_header.resize(P.IN_HEADER)
	_actions_at = P.IN_HEADER + n_agents
	actions.resize(n_agents * action_width)
	if not _write_message(_spec, spec):
		return "the space description is too large for the spec tensor (%d bytes)" % P.SPEC_CAPACITY
	_published = true
	_sem_obs.post()
	return ""


## Reports a fatal error to the host (when attached); the caller quits. At start-up the host is
## woken to read it; later it is waiting for an answer that will not come, sees the engine exit
## and quotes this message (a post would pass stale results off as the answer).
func fail(message: String) -> void:
	if _fatal != null and _sem_obs != null:
		_write_message(_fatal, {"error": message})
		if not _published:
			_sem_obs.post()


## Waits for the next command and returns it (`flags`, and for STEP `actions`, are set); 0 when
## the host died or asked us to quit (the tree is quitting) or the step tensors are wrong
## (`error` says why).
func wait_command() -> int:
	if not _sem_action.wait():
		return 0
	return take_command()


## The command the host posted (its semaphore already taken, e.g. by channel.wait_step()), as
## wait_command() returns it.
func take_command() -> int:
	if _in == null and not _attach_step_tensors():
		return 0
	var header := _header
	if not _in.read_into(header, 0):  # else `header` still holds the previous command
		return _read_failed("the command header")
	command = int(header[P.H_COMMAND])
	if command == 0:
		error = "no command in '%sin' (0)" % _prefix
		return 0
	flags = int(header[P.H_FLAGS])
	if command == P.CMD_STEP and not _in.read_into(actions, _actions_at):  # else the previous actions
		return _read_failed("the actions")
	return command


## A failed read of `in` (read_into logged why): no command, `error` says which part.
func _read_failed(what: String) -> int:
	command = 0
	error = "could not read %s from '%sin'" % [what, _prefix]
	return 0


## RESET: the agents to reset (1 = reset) when the host sent a mask; empty for all of them.
func reset_mask() -> PackedByteArray:
	var mask := PackedByteArray()
	if int(_header[P.H_MASKED]) > 0:
		var values := PackedFloat32Array()
		values.resize(_n_agents)
		_in.read_into(values, P.IN_HEADER)
		mask.resize(_n_agents)
		for i in _n_agents:
			mask[i] = 1 if values[i] != 0.0 else 0
	return mask


## RESET with FLAG_SEED: the 64-bit seed the host wrote.
func read_seed() -> int:
	var s: PackedInt32Array = _seed.read()
	return (int(s[1]) << 32) | (int(s[0]) & 0xFFFFFFFF)


## Publishes the answer to a command: the errors logged while it ran (if any), then `out`.
func answer(out: PackedFloat32Array) -> void:
	if logged[0] > 0:  # inlined, not a helper: this runs on every step
		_report_errors()
	_out.write(out)
	_sem_obs.post()


## Writes the Dict parts' observations (name -> PackedByteArray for images, PackedFloat32Array
## for boxes) into their tensors (`final`: the final-observation tensors). False: `error` says why.
func write_parts(buffers: Dictionary, final: bool) -> bool:
	for name in buffers:
		var tensor = _parts[name][1 if final else 0]
		var data = buffers[name]
		if data.size() != tensor.size():
			error = "observation part '%s' has %d values, its tensor '%s' %d" % [name, data.size(), tensor.get_name(), tensor.size()]
			return false
		tensor.write(data)
	return true


## The tensor of image part `name` (`final`: its final-observation tensor), which the cameras
## write into directly (one copy per frame).
func part_tensor(name: String, final: bool) -> cPersistentUintTensor:
	return _parts[name][1 if final else 0]


## Writes a render() frame (H×W×3 bytes) into the frame tensor. False: `error` says why.
func write_frame(data: PackedByteArray) -> bool:
	if _frame == null:
		_frame = _mem.findUintTensor(_prefix + "frame")
	if _frame == null or _frame.size() != data.size():
		error = "the host's '%sframe' tensor is %s, a frame has %d bytes" % [
				_prefix, "missing" if _frame == null else "%d bytes" % _frame.size(), data.size()]
		return false
	return _frame.write(data)


## CLOSE: acknowledge (the caller quits).
func acknowledge() -> void:
	_sem_obs.post()


func detach() -> void:
	if _watch != null:
		OS.call(&"remove_logger", _watch)
		_watch = null


## The errors logged while the command ran: their texts to error_texts, their number to errors.
func _report_errors() -> void:
	var taken: Array = _watch.take()
	var texts := PackedStringArray()
	for text: String in taken[0]:  # bounded, so that 20 of them always fit the tensor
		texts.append(text if text.length() <= MAX_TEXT else text.left(MAX_TEXT) + "...")
	_write_message(_error_texts, {"engine_errors": texts, "count": taken[1]})
	_errors.write(PackedInt32Array([taken[1]]))


func _attach_step_tensors() -> bool:
	_in = _mem.findFloatTensor(_prefix + "in")
	_out = _mem.findFloatTensor(_prefix + "out")
	if _in == null or _out == null:
		error = "the host did not create the tensors '%sin' and '%sout'" % [_prefix, _prefix]
		return false
	var expected_in := P.in_size(_n_agents, _action_width)
	if _in.size() != expected_in or _out.size() != _out_size:
		error = "tensor sizes differ from the spec: in %d (expected %d), out %d (expected %d)" % [
			_in.size(), expected_in, _out.size(), _out_size]
		return false
	for entry in _part_sizes:
		var found := []
		for kind in [P.PART_OBS, P.PART_FINAL_OBS]:
			var tname := P.part_entry(_prefix, kind, entry[0])
			var t = (_mem.findUintTensor(tname) if entry[1] == "image" else _mem.findFloatTensor(tname) if entry[1] == "box"
					else _mem.findIntTensor(tname))  # discrete kinds: int32
			if t == null or t.size() != entry[2]:
				error = "the host did not create the observation part tensor '%s' of %d values (%s)" % [
						tname, entry[2], "missing" if t == null else "it has %d" % t.size()]
				return false
			found.append(t)
		_parts[entry[0]] = found
	channel = cStepChannel.new()
	if not channel.setup(_sem_action, _sem_obs, _in, _out, _actions_at, P.CMD_STEP):
		error = "could not set up the step channel (logged above)"
		return false
	return true


## Writes `value` as a framed JSON message; false when it does not fit the tensor.
func _write_message(tensor: cPersistentUintTensor, value: Dictionary) -> bool:
	var text := JSON.stringify(value).to_utf8_buffer()
	var capacity: int = tensor.size()
	if text.size() > capacity - 4:
		push_error("GymEnv: a message of %d bytes does not fit its tensor (%d)" % [text.size(), capacity])
		return false
	var buf := PackedByteArray()
	buf.resize(4)
	buf.encode_u32(0, text.size())
	buf.append_array(text)
	buf.resize(capacity)
	tensor.write(buf)
	return true
