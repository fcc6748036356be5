## OffscreenWindow opted out (AIGYM_OFFSCREEN=0 on the host's private X server): stop_drawing,
## as GymEnv calls it, changes nothing and the main window is drawn every frame.
## Results: the root's pixel before and after its colour changed.
extends SceneTree

const Report := preload("res://lib/report.gd")


func _pixel(vp: Viewport) -> Array:
	var c: Color = vp.get_texture().get_image().get_pixel(2, 2)
	return [c.r8, c.g8, c.b8]


func _initialize() -> void:
	var r := Report.new()
	r.check(not OffscreenWindow.is_offscreen(), "AIGYM_OFFSCREEN=0: not offscreen")
	var rect := ColorRect.new()
	rect.color = Color8(255, 0, 0)
	rect.size = Vector2(4096, 4096)
	root.add_child(rect)
	await process_frame  # the root window is in the tree (entering it sets its update mode)
	OffscreenWindow.stop_drawing(self)
	await RenderingServer.frame_post_draw
	r.result("root_first", _pixel(root))
	rect.color = Color8(255, 255, 0)
	for i in 3:
		await RenderingServer.frame_post_draw
	r.result("root_later", _pixel(root))
	r.finish(self)
