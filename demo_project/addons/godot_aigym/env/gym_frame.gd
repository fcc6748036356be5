## GymFrame: render() frames (the step protocol's CMD_RENDER): the main window's next frame,
## read back as H×W×3 uint8 bytes (channel-last, rows from the top) into the `frame` tensor.
## The frame is drawn with the physics servers paused, so it shows the state of the last answer.
class_name GymFrame
extends RefCounted

## A frame is being drawn (GymEnv runs no command meanwhile).
var busy := false


## (height, width) of render() frames: the main window; empty under --headless (no frames).
static func shape() -> Array:
	if DisplayServer.get_name() == "headless":
		return []
	var size := DisplayServer.window_get_size()
	return [size.y, size.x]


## Draws the next frame, writes it to the transport's frame tensor and answers.
func render(env: Node, transport: GymTransport) -> void:
	busy = true
	OffscreenWindow.draw_next_frame(env.get_tree())  # an offscreen engine draws its main window for this frame only
	PhysicsServer2D.set_active(false)
	PhysicsServer3D.set_active(false)
	await RenderingServer.frame_post_draw
	PhysicsServer2D.set_active(true)
	PhysicsServer3D.set_active(true)
	busy = false
	var image: Image = env.get_viewport().get_texture().get_image()
	var wanted: Array = transport.frame_shape
	if image == null or image.is_empty():
		env.fail("render(): the main window has no image (the engine renders nothing)")
		return
	if image.get_width() != wanted[1] or image.get_height() != wanted[0]:
		image.resize(wanted[1], wanted[0], Image.INTERPOLATE_BILINEAR)  # the window was resized
	if image.get_format() != Image.FORMAT_RGB8:
		image.convert(Image.FORMAT_RGB8)
	if not transport.write_frame(image.get_data()):
		env.fail(transport.error)
		return
	transport.answer(env.out)
