## OffscreenWindow in an engine on the host's private X server (AIGYM_OFFSCREEN=1): the main
## window is not drawn while SubViewports still are; draw_next_frame draws it for one frame.
## Results: the root's pixel at each stage, the SubViewport's pixel while the root is not drawn.
extends SceneTree

const Report := preload("res://lib/report.gd")


func _pixel(vp: Viewport) -> Array:
	var c: Color = vp.get_texture().get_image().get_pixel(2, 2)
	return [c.r8, c.g8, c.b8]


func _rect(parent: Node, color: Color) -> ColorRect:
	var rect := ColorRect.new()
	rect.color = color
	rect.size = Vector2(4096, 4096)
	parent.add_child(rect)
	return rect


func _initialize() -> void:
	var r := Report.new()
	r.check(OffscreenWindow.is_offscreen(), "the host marks its private X server's engines offscreen")
	var on_root := _rect(root, Color8(255, 0, 0))
	var sub := SubViewport.new()
	sub.size = Vector2i(8, 8)
	sub.render_target_update_mode = SubViewport.UPDATE_ALWAYS
	root.add_child(sub)
	var on_sub := _rect(sub, Color8(0, 255, 0))
	await process_frame  # the root window is in the tree (entering it sets its update mode)
	OffscreenWindow.stop_drawing(self)
	OffscreenWindow.draw_next_frame(self)
	await RenderingServer.frame_post_draw
	r.result("root_once", _pixel(root))
	on_root.color = Color8(255, 255, 0)
	on_sub.color = Color8(0, 0, 255)
	for i in 3:
		await RenderingServer.frame_post_draw
	r.result("root_not_drawn", _pixel(root))
	r.result("sub_while_root_not_drawn", _pixel(sub))
	OffscreenWindow.draw_next_frame(self)
	await RenderingServer.frame_post_draw
	r.result("root_once_again", _pixel(root))
	r.finish(self)
