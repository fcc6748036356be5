## GymTransport.wait_command when reading 'in' fails: no command (0) and `error` says what, never
## the previous command again. argv[-1]: "header" (the tensor is not attached) or "actions" (the
## host's 'in' holds a STEP header but no room for the actions).
extends SceneTree

const Report := preload("res://lib/report.gd")
const P := preload("res://addons/godot_aigym/env/gym_protocol.gd")


func _initialize() -> void:
	var r := Report.new()
	var t := GymTransport.new()
	t._mem = cSharedMemory.new()
	t._sem_action = t._mem.findSemaphore(P.DEFAULT_PREFIX + "sem_action")
	r.check(t._sem_action != null, "the host's sem_action")
	t._header.resize(P.IN_HEADER)
	t._header[P.H_COMMAND] = P.CMD_STEP  # the previous command
	t.actions.resize(2)
	if OS.get_cmdline_user_args()[-1] == "header":
		t._in = cPersistentFloatTensor.new()
	else:
		t._in = t._mem.findFloatTensor(P.DEFAULT_PREFIX + "in")
		t._actions_at = P.IN_HEADER
	r.result("command", t.wait_command())
	r.result("error", t.error)
	r.finish(self)
