## Rays cast from this node in a fan around its forward axis (+X, turned with the node): one
## observation is float32 distances, then hit classes (see [RayLayout]).
##
## Ray i of n turns [member cone_width] × (i / (n - 1) - 0.5) degrees from forward (clockwise
## on screen as i grows, since 2D's Y points down); a single ray points straight ahead. Call
## [method measure] from [code]_physics_process[/code], where the physics space may be queried.
class_name RaycastSensor2D
extends Sensor2D

## Number of rays.
@export_range(1, 4096) var ray_count: int = 8
## Spread of the fan in degrees.
@export_range(0.0, 360.0) var cone_width: float = 90.0
## How far a ray reaches, in pixels (world units).
@export var ray_length: float = 200.0
## Divide distances by [member ray_length] (1.0 = nothing within reach).
@export var normalize: bool = false
## Physics layers the rays hit.
@export_flags_2d_physics var collision_mask: int = 1
## Hit bodies.
@export var collide_with_bodies: bool = true
## Hit areas.
@export var collide_with_areas: bool = false
## Groups that classify what a ray hit (class = 1 + index; 0 = none). Empty: distances only.
@export var hit_groups: Array[StringName] = []

var _angles := PackedFloat32Array()
var _query := PhysicsRayQueryParameters2D.new()


func _ready() -> void:
	if not RayLayout.config_ok(ray_count, ray_length, "RaycastSensor2D '%s'" % name):
		return
	_angles.clear()
	for i in ray_count:
		_angles.append(0.0 if ray_count == 1 else deg_to_rad(cone_width * (float(i) / (ray_count - 1) - 0.5)))
	RayLayout.configure_query(_query, collision_mask, collide_with_bodies, collide_with_areas, get_parent() as CollisionObject2D)


## (rays,) or (2 × rays,) with hit classes.
func get_shape() -> PackedInt32Array:
	return PackedInt32Array([RayLayout.size(ray_count, not hit_groups.is_empty())])


func get_dtype() -> String:
	return "float32"


## Casts every ray now; returns the observation (empty, with an error, if the sensor is unusable).
func measure() -> PackedFloat32Array:
	if not RayLayout.ready_to_measure(not _angles.is_empty() and is_inside_tree(), "RaycastSensor2D '%s'" % name):
		return PackedFloat32Array()
	var space := get_world_2d().direct_space_state
	var origin := global_position
	var heading := global_rotation
	_query.from = origin
	var cast := func(i: int) -> Dictionary:
		_query.to = origin + Vector2.from_angle(heading + _angles[i]) * ray_length
		return space.intersect_ray(_query)
	return RayLayout.observe(_angles.size(), origin, ray_length, normalize, hit_groups, cast)
