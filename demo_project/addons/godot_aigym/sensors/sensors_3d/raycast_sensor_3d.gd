## Rays cast from this node in a grid spread over a cone around its forward axis (-Z): one
## observation is float32 distances, then hit classes (see [RayLayout]).
##
## Ray (row r, column c) turns [member cone_width] × (c / (columns - 1) - 0.5) degrees about
## the node's Y axis (left to right) and [member cone_height] × (0.5 - r / (rows - 1)) degrees
## about its X axis (top to bottom); a single column or row points straight ahead. Call
## [method measure] from [code]_physics_process[/code], where the physics space may be queried.
class_name RaycastSensor3D
extends Sensor3D

## Rays across (columns).
@export_range(1, 4096) var columns: int = 8
## Rays up and down (rows).
@export_range(1, 4096) var rows: int = 1
## Horizontal spread in degrees.
@export_range(0.0, 360.0) var cone_width: float = 90.0
## Vertical spread in degrees.
@export_range(0.0, 180.0) var cone_height: float = 0.0
## How far a ray reaches, in world units.
@export var ray_length: float = 20.0
## Divide distances by [member ray_length] (1.0 = nothing within reach).
@export var normalize: bool = false
## Physics layers the rays hit.
@export_flags_3d_physics var collision_mask: int = 1
## Hit bodies.
@export var collide_with_bodies: bool = true
## Hit areas.
@export var collide_with_areas: bool = false
## Groups that classify what a ray hit (class = 1 + index; 0 = none). Empty: distances only.
@export var hit_groups: Array[StringName] = []

var _directions: Array[Vector3] = []
var _query := PhysicsRayQueryParameters3D.new()


func _ready() -> void:
	if not RayLayout.config_ok(columns * rows, ray_length, "RaycastSensor3D '%s'" % name):
		return
	_directions.clear()
	for r in rows:
		var pitch := 0.0 if rows == 1 else cone_height * (0.5 - float(r) / (rows - 1))
		for c in columns:
			var yaw := 0.0 if columns == 1 else cone_width * (float(c) / (columns - 1) - 0.5)
			# yaw > 0 turns right (towards +X), pitch > 0 up (towards +Y)
			_directions.append(Basis.from_euler(Vector3(deg_to_rad(pitch), deg_to_rad(-yaw), 0.0)) * Vector3.FORWARD)
	RayLayout.configure_query(_query, collision_mask, collide_with_bodies, collide_with_areas, get_parent() as CollisionObject3D)


## (rays,) or (2 × rays,) with hit classes.
func get_shape() -> PackedInt32Array:
	return PackedInt32Array([RayLayout.size(columns * rows, not hit_groups.is_empty())])


func get_dtype() -> String:
	return "float32"


## Casts every ray now; returns the observation (empty, with an error, if the sensor is unusable).
func measure() -> PackedFloat32Array:
	if not RayLayout.ready_to_measure(not _directions.is_empty() and is_inside_tree(), "RaycastSensor3D '%s'" % name):
		return PackedFloat32Array()
	var space := get_world_3d().direct_space_state
	var origin := global_position
	var basis := global_transform.basis.orthonormalized()
	_query.from = origin
	var cast := func(i: int) -> Dictionary:
		_query.to = origin + basis * _directions[i] * ray_length
		return space.intersect_ray(_query)
	return RayLayout.observe(_directions.size(), origin, ray_length, normalize, hit_groups, cast)
