## Turns what a SubViewport rendered into exactly H×W×C channel-last uint8 bytes.
##
## Shared by [CameraSensor2D] and [CameraSensor3D]. The compatibility renderer reads viewports
## back as RGBA8; this converts to the declared format in one engine pass
## ([method Image.convert]): RGB drops alpha; GRAY is the engine's L8 conversion, which in Godot
## 4.6 is the Rec. 709 luma 0.2126 R + 0.7152 G + 0.0722 B rounded (older engines used the mean of
## R, G and B: a policy trained on GRAY expects the engine version it was trained with).
class_name CameraFrame
extends RefCounted

## Channel formats a camera sensor can declare.
enum ColorFormat { RGB, GRAY }

## The largest side a camera viewport may have (the GL texture limit of Mesa's llvmpipe).
const MAX_SIDE := 16384


## Channels per pixel of [param format]: 3 for RGB, 1 for GRAY.
static func channels(format: ColorFormat) -> int:
	return 1 if format == ColorFormat.GRAY else 3


## (height, width, channels) of one frame of this size and format.
static func shape(width: int, height: int, format: ColorFormat) -> PackedInt32Array:
	return PackedInt32Array([height, width, channels(format)])


## Why a camera of this size and format cannot work, or "" when it can.
static func check_config(width: int, height: int, format: int) -> String:
	if width <= 0 or height <= 0:
		return "size %dx%d: width and height must be at least 1" % [width, height]
	if width > MAX_SIDE or height > MAX_SIDE:
		return "size %dx%d: larger than the engine allows (%d per side)" % [width, height, MAX_SIDE]
	if format != ColorFormat.RGB and format != ColorFormat.GRAY:
		return "color_format %d: must be CameraFrame.ColorFormat.RGB or GRAY" % format
	return ""


## True when a camera of this size and format can work; otherwise false, with an error naming
## [param who].
static func config_ok(width: int, height: int, format: int, who: String) -> bool:
	var problem := check_config(width, height, format)
	if problem:
		push_error("%s: %s" % [who, problem])
	return problem.is_empty()


## Calls [param follow] right before every draw while [param on] (repeat calls change nothing):
## a SubViewport breaks the transform chain, so a camera takes its node's pose after all game
## code of the frame moved the agent.
static func follow_before_draws(follow: Callable, on: bool) -> void:
	var connected := RenderingServer.frame_pre_draw.is_connected(follow)
	if on and not connected:
		RenderingServer.frame_pre_draw.connect(follow)
	elif not on and connected:
		RenderingServer.frame_pre_draw.disconnect(follow)


## Makes the SubViewport a camera renders into: [param width]×[param height], redrawn every
## frame, opaque, no MSAA, so the bytes read back are exactly what was drawn.
static func make_viewport(width: int, height: int) -> SubViewport:
	var vp := SubViewport.new()
	vp.size = Vector2i(width, height)
	vp.render_target_update_mode = SubViewport.UPDATE_ALWAYS
	vp.transparent_bg = false
	vp.msaa_2d = Viewport.MSAA_DISABLED
	vp.msaa_3d = Viewport.MSAA_DISABLED
	vp.screen_space_aa = Viewport.SCREEN_SPACE_AA_DISABLED
	vp.use_debanding = false
	vp.handle_input_locally = false
	vp.gui_disable_input = true
	vp.audio_listener_enable_2d = false
	vp.audio_listener_enable_3d = false
	return vp


## The last frame [param vp] rendered, checked to be [param shape]'s (H, W, C) size, or null (with
## an error naming [param who]) when there is none, e.g. under [code]--headless[/code], which
## renders nothing. The read-back is the engine's (RGBA8 on the compatibility renderer).
static func _rendered(vp: SubViewport, shape: PackedInt32Array, who: String) -> Image:
	# the headless display server only has the dummy renderer: it has no pixels to read back
	var image: Image = null if DisplayServer.get_name() == "headless" else vp.get_texture().get_image()
	if image == null or image.is_empty():
		push_error(("%s: the viewport has no image; rendering needs the engine started with a display and "
				+ "the opengl3 renderer (not --headless; see docs/RENDERING.md)") % who)
		return null
	if image.get_width() != shape[1] or image.get_height() != shape[0]:
		push_error("%s: the viewport rendered %dx%d, but the sensor's shape %s declares %dx%d (set width/height before the sensor enters the tree)" % [
				who, image.get_width(), image.get_height(), shape, shape[1], shape[0]])
		return null
	return image


## The last frame [param vp] rendered as H×W×C bytes (one more copy than [method read_into]), or
## an empty array (with an error naming [param who]) when there is none or it is not of
## [param declared] (H, W, C) size (default: the viewport's).
static func read(vp: SubViewport, format: ColorFormat, who: String, declared := PackedInt32Array()) -> PackedByteArray:
	var image := _rendered(vp, declared if declared.size() == 3 else shape(vp.size.x, vp.size.y, format), who)
	if image == null:
		return PackedByteArray()
	var wanted := Image.FORMAT_L8 if format == ColorFormat.GRAY else Image.FORMAT_RGB8
	if image.get_format() != wanted:
		image.convert(wanted)
	return image.get_data()


## Bytes per pixel of the read-back formats [method read_into] copies from (0: others).
static func _source_channels(image_format: int) -> int:
	match image_format:
		Image.FORMAT_RGBA8:
			return 4
		Image.FORMAT_RGB8:
			return 3
		Image.FORMAT_L8:
			return 1
	return 0


## Writes the last frame of [param vp] into [param tensor] at byte [param offset], checked against
## [param shape] (H, W, C): one copy after the read-back ([method cPersistentUintTensor.write_pixels_at]
## drops alpha while copying; [code]Image.get_data()[/code] shares the image's bytes). GRAY first
## converts to the engine's L8 (one more pass, in the engine's own luma).
static func read_into(vp: SubViewport, format: ColorFormat, shape: PackedInt32Array, tensor: cPersistentUintTensor, offset: int, who: String) -> bool:
	if tensor == null:
		push_error("%s.write_into: tensor is null" % who)
		return false
	var image := _rendered(vp, shape, who)
	if image == null:
		return false
	if format == ColorFormat.GRAY and image.get_format() != Image.FORMAT_L8:
		image.convert(Image.FORMAT_L8)
	var source := _source_channels(image.get_format())
	if source == 0:
		image.convert(Image.FORMAT_RGBA8)
		source = 4
	return tensor.write_pixels_at(offset, image.get_data(), source, channels(format))


## What a camera sensor's [code]capture()[/code] returns: the last frame of [param vp] (see
## [method read], checked against the sensor's [param declared] shape); a null [param vp] means
## the sensor is not ready, also an error.
static func capture(vp: SubViewport, format: ColorFormat, who: String, declared := PackedInt32Array()) -> PackedByteArray:
	if vp == null:
		push_error("%s.capture: the sensor is not ready (not in the tree, or its configuration was refused)" % who)
		return PackedByteArray()
	return read(vp, format, who, declared)


## What a camera sensor's [code]write_into()[/code] does: the last frame of [param vp], of
## [param shape] (H, W, C), into [param tensor] at byte [param offset] with one copy ([method read_into]).
static func capture_into(vp: SubViewport, format: ColorFormat, shape: PackedInt32Array, tensor: cPersistentUintTensor, offset: int, who: String) -> bool:
	if vp == null:
		push_error("%s.write_into: the sensor is not ready (not in the tree, or its configuration was refused)" % who)
		return false
	return read_into(vp, format, shape, tensor, offset, who)


## Writes [param frame] (bytes already captured) into [param tensor] at byte [param offset].
static func write_into(frame: PackedByteArray, tensor: cPersistentUintTensor, offset: int, who: String) -> bool:
	if tensor == null:
		push_error("%s.write_into: tensor is null" % who)
		return false
	return tensor.write_at(offset, frame)
