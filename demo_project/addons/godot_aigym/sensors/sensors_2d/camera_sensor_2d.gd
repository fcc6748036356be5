## A camera for one agent: renders the agent's 2D world around this node's position into its own
## SubViewport of [member width]×[member height] and hands out the last frame as exactly
## H×W×C channel-last uint8 bytes (C = 3 for RGB, 1 for GRAY).
##
## Needs an engine that renders (a display and the opengl3 renderer; see docs/RENDERING.md).
## Read frames with [method capture] or [method write_into]; many agents' cameras go into one
## batch tensor with [CameraBatch].
class_name CameraSensor2D
extends Sensor2D

## Image width in pixels.
@export_range(1, 16384) var width: int = 84
## Image height in pixels.
@export_range(1, 16384) var height: int = 84
## RGB (3 channels) or GRAY (1 channel, luma; see [CameraFrame]).
@export var color_format: CameraFrame.ColorFormat = CameraFrame.ColorFormat.RGB
## Zoom of the camera (2 shows the world twice as large).
@export var zoom: Vector2 = Vector2.ONE
## Turn the image with the node's rotation.
@export var follow_rotation: bool = false

var _viewport: SubViewport
var _camera: Camera2D


func _ready() -> void:
	if not CameraFrame.config_ok(width, height, color_format, _who()):
		return
	if zoom.x <= 0.0 or zoom.y <= 0.0:
		push_error("%s: zoom %s must be positive" % [_who(), zoom])
		return
	_viewport = CameraFrame.make_viewport(width, height)
	_viewport.world_2d = get_viewport().world_2d  # sees the agent's world, not an empty one
	_camera = Camera2D.new()
	_camera.zoom = zoom
	_camera.ignore_rotation = not follow_rotation
	_camera.enabled = true
	_viewport.add_child(_camera)
	add_child(_viewport)
	_follow()
	CameraFrame.follow_before_draws(_follow, true)


func _exit_tree() -> void:
	CameraFrame.follow_before_draws(_follow, false)


func _enter_tree() -> void:
	if _camera:
		CameraFrame.follow_before_draws(_follow, true)


func _follow() -> void:
	_camera.global_position = global_position
	_camera.global_rotation = global_rotation
	_camera.force_update_scroll()


## (height, width, channels).
func get_shape() -> PackedInt32Array:
	return CameraFrame.shape(width, height, color_format)


func get_dtype() -> String:
	return "uint8"


## The SubViewport this camera renders into (null if the configuration was refused).
func get_viewport_node() -> SubViewport:
	return _viewport


## The last rendered frame: height × width × channels bytes, row after row from the top-left
## pixel, channels last. Empty (with an error) if there is no frame.
func capture() -> PackedByteArray:
	return CameraFrame.capture(_viewport, color_format, _who(), get_shape())


## Captures and writes the frame into [param tensor] at byte [param offset].
func write_into(tensor: cPersistentUintTensor, offset: int = 0) -> bool:
	return CameraFrame.capture_into(_viewport, color_format, get_shape(), tensor, offset, _who())


func _who() -> String:
	return "CameraSensor2D '%s'" % name
