## Cameras over known pictures write their frames into the "frames" uint8 tensor, agent after
## agent (N, H, W, C), then post "done". User args: JSON {"w", "h", "gray", "colors": [agent][4][3]}.
extends SceneTree

const Report := preload("res://lib/report.gd")
const Pattern := preload("res://render/pattern_2d.gd")


func _initialize() -> void:
	var r := Report.new()
	var spec: Dictionary = JSON.parse_string(OS.get_cmdline_user_args()[-1])
	var w: int = spec["w"]
	var h: int = spec["h"]
	var world := Node2D.new()
	root.add_child(world)
	var sensors: Array = []
	for i in spec["colors"].size():
		var origin := Vector2(i * (w + 8), 0)  # apart, so no camera sees its neighbour
		Pattern.build(world, origin, w, h, spec["colors"][i])
		var cam := Pattern.camera(origin, w, h, spec["gray"])
		world.add_child(cam)
		sensors.append(cam)
	r.check_eq(sensors[0].get_shape(), PackedInt32Array([h, w, 1 if spec["gray"] else 3]), "camera shape (H, W, C)")
	await RenderingServer.frame_post_draw
	await RenderingServer.frame_post_draw
	var mem := cSharedMemory.new()
	var frames: cPersistentUintTensor = mem.findUintTensor("frames")
	var batch := CameraBatch.new()
	r.check(batch.write_frames(sensors, frames), "batch written into the tensor")
	r.check(mem.findSemaphore("done").post(), "post done")
	world.queue_free()
	await process_frame
	r.finish(self)
