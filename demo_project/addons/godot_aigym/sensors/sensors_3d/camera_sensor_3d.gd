## A camera for one agent: renders the agent's 3D world from this node's transform into its own
## SubViewport of [member width]×[member height] and hands out the last frame as exactly
## H×W×C channel-last uint8 bytes (C = 3 for RGB, 1 for GRAY).
##
## Needs an engine that renders (a display and the opengl3 renderer; see docs/RENDERING.md).
## Read frames with [method capture] or [method write_into]; many agents' cameras go into one
## batch tensor with [CameraBatch].
class_name CameraSensor3D
extends Sensor3D

## Image width in pixels.
@export_range(1, 16384) var width: int = 84
## Image height in pixels.
@export_range(1, 16384) var height: int = 84
## RGB (3 channels) or GRAY (1 channel, luma; see [CameraFrame]).
@export var color_format: CameraFrame.ColorFormat = CameraFrame.ColorFormat.RGB
## Vertical field of view in degrees.
@export_range(1.0, 179.0) var fov: float = 75.0
## Near clipping distance.
@export var near: float = 0.05
## Far clipping distance.
@export var far: float = 100.0
## Render layers this camera sees.
@export_flags_3d_render var cull_mask: int = 0xFFFFF
## Optional environment (background colour, ambient light) for this camera only.
@export var environment: Environment

var _viewport: SubViewport
var _camera: Camera3D


func _ready() -> void:
	if not CameraFrame.config_ok(width, height, color_format, _who()):
		return
	_viewport = CameraFrame.make_viewport(width, height)
	_camera = Camera3D.new()
	_camera.fov = fov
	_camera.near = near
	_camera.far = far
	_camera.cull_mask = cull_mask
	_camera.environment = environment
	_camera.current = true
	_viewport.add_child(_camera)
	add_child(_viewport)  # shares the agent's World3D: no own_world_3d
	_follow()
	CameraFrame.follow_before_draws(_follow, true)


func _exit_tree() -> void:
	CameraFrame.follow_before_draws(_follow, false)


func _enter_tree() -> void:
	if _camera:
		CameraFrame.follow_before_draws(_follow, true)


func _follow() -> void:
	_camera.global_transform = global_transform
	# a node's transform reaches the renderer only at the next notification flush (next frame):
	# hand this frame's pose to the renderer directly, as Camera3D itself does
	RenderingServer.camera_set_transform(_camera.get_camera_rid(), global_transform.orthonormalized())


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
	return "CameraSensor3D '%s'" % name
