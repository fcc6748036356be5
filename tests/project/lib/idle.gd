## Runs until it is stopped: an engine for tests of process supervision.
extends SceneTree


func _initialize() -> void:
	print("IDLE")
