## An engine that stops on a script error while its host waits (tests/shm_godot/test_engine_stuck_on_error.py):
## round 1 logs an error and answers it (benign); round 2 logs an error it answers after a
## slow step; round 3 hits a script error in a helper and goes back to waiting without answering.
extends SceneTree

var missing: Node = null


func _initialize() -> void:
	var mem := cSharedMemory.new()
	var go: cSharedMemorySemaphore = mem.findSemaphore("to_engine")
	var back: cSharedMemorySemaphore = mem.findSemaphore("to_host")
	if not go.wait():
		return
	push_error("stuck test: benign, answered")
	back.post()
	push_error("stuck test: benign, logged after the answer")
	if not go.wait():
		return
	OS.delay_msec(250)  # the host's wait checks the engine while it works
	back.post()
	if not go.wait():
		return
	_broken_step()
	go.wait()  # for ever: the host must learn why; it asks for shutdown, and we quit


func _broken_step() -> void:
	missing.queue_free()  # a script error: this function stops here
	print("never reached")
