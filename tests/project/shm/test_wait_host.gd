## Waits on "ping" forever: only the host's death or its shutdown request ends the wait.
extends SceneTree


func _initialize() -> void:
	var sem := cSharedMemorySemaphore.new()
	sem.init("ping")
	var ready_sem := cSharedMemorySemaphore.new()
	ready_sem.init("ready")
	ready_sem.post()
	print("WAITING")
	var ok := sem.wait()
	print("WAIT RETURNED ", ok)
