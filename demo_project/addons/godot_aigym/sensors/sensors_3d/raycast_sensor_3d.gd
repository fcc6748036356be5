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
var _exclude: Array[RID] = []


func _ready() -> void:
	var problem := RayLayout.check_config(columns * rows, ray_length)
	if problem:
		push_error("RaycastSensor3D '%s': %s" % [name, problem])
		return
	_directions.clear()
	for r in rows:
		var pitch := 0.0 if rows == 1 else cone_height * (0.5 - float(r) / (rows - 1))
		for c in columns:
			var yaw := 0.0 if columns == 1 else cone_width * (float(c) / (columns - 1) - 0.5)
			# yaw > 0 turns right (towards +X), pitch > 0 up (towards +Y)
			_directions.append(Basis.from_euler(Vector3(deg_to_rad(pitch), deg_to_rad(-yaw), 0.0)) * Vector3.FORWARD)
	_query.collision_mask = collision_mask
	_query.collide_with_bodies = collide_with_bodies
	_query.collide_with_areas = collide_with_areas
	var body := get_parent() as CollisionObject3D
	if body:
		_exclude = [body.get_rid()]  # the agent's own body is not an obstacle
	_query.exclude = _exclude


## (rays,) or (2 × rays,) with hit classes.
func get_shape() -> PackedInt32Array:
	return PackedInt32Array([RayLayout.size(columns * rows, not hit_groups.is_empty())])


func get_dtype() -> String:
	return "float32"


## Casts every ray now; returns the observation (empty, with an error, if the sensor is unusable).
func measure() -> PackedFloat32Array:
	var out := PackedFloat32Array()
	if _directions.is_empty() or not is_inside_tree():
		push_error("RaycastSensor3D '%s'.measure: the sensor is not ready (not in the tree, or its configuration was refused)" % name)
		return out
	var n := _directions.size()
	var classes := not hit_groups.is_empty()
	out.resize(RayLayout.size(n, classes))
	var space := get_world_3d().direct_space_state
	var origin := global_position
	var basis := global_transform.basis.orthonormalized()
	_query.from = origin
	for i in n:
		_query.to = origin + basis * _directions[i] * ray_length
		var hit := space.intersect_ray(_query)
		var distance := ray_length
		if not hit.is_empty():
			distance = origin.distance_to(hit["position"])
			if classes:
				out[n + i] = RayLayout.hit_class(hit["collider"], hit_groups)
		out[i] = distance / ray_length if normalize else distance
	return out
