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
	var problem := RayLayout.check_config(ray_count, ray_length)
	if problem:
		push_error("RaycastSensor2D '%s': %s" % [name, problem])
		return
	_angles.clear()
	for i in ray_count:
		_angles.append(0.0 if ray_count == 1 else deg_to_rad(cone_width * (float(i) / (ray_count - 1) - 0.5)))
	_query.collision_mask = collision_mask
	_query.collide_with_bodies = collide_with_bodies
	_query.collide_with_areas = collide_with_areas
	var body := get_parent() as CollisionObject2D
	if body:
		_query.exclude = [body.get_rid()]  # the agent's own body is not an obstacle


## (rays,) or (2 × rays,) with hit classes.
func get_shape() -> PackedInt32Array:
	return PackedInt32Array([RayLayout.size(ray_count, not hit_groups.is_empty())])


func get_dtype() -> String:
	return "float32"


## Casts every ray now; returns the observation (empty, with an error, if the sensor is unusable).
func measure() -> PackedFloat32Array:
	var out := PackedFloat32Array()
	if _angles.is_empty() or not is_inside_tree():
		push_error("RaycastSensor2D '%s'.measure: the sensor is not ready (not in the tree, or its configuration was refused)" % name)
		return out
	var n := _angles.size()
	var classes := not hit_groups.is_empty()
	out.resize(RayLayout.size(n, classes))
	var space := get_world_2d().direct_space_state
	var origin := global_position
	var heading := global_rotation
	_query.from = origin
	for i in n:
		_query.to = origin + Vector2.from_angle(heading + _angles[i]) * ray_length
		var hit := space.intersect_ray(_query)
		var distance := ray_length
		if not hit.is_empty():
			distance = origin.distance_to(hit["position"])
			if classes:
				out[n + i] = RayLayout.hit_class(hit["collider"], hit_groups)
		out[i] = distance / ray_length if normalize else distance
	return out
