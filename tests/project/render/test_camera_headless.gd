## A camera sensor in a --headless engine (no renderer): refuses with an error naming the fix,
## instead of handing out an empty or black picture.
extends SceneTree

const Report := preload("res://lib/report.gd")


func _initialize() -> void:
	var r := Report.new()
	var cam := CameraSensor3D.new()
	cam.width = 4
	cam.height = 4
	root.add_child(cam)
	await process_frame
	await process_frame
	r.check(cam.capture().is_empty(), "headless capture hands out no frame")
	cam.queue_free()
	await process_frame
	r.finish(self)
