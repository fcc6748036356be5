## What the raycast sensors share: checking their configuration and laying out one observation,
## [code][distance of ray 0 .. n-1, hit class of ray 0 .. n-1][/code] as float32.
##
## A distance is in world units ([member normalize]: divided by the ray length, so 1.0 means
## nothing was hit within reach); a ray that hits nothing reports the full ray length. A hit
## class is 1 + the index of the first group in [code]hit_groups[/code] the collider belongs
## to, 0 when nothing was hit or the collider is in none of them. With no [code]hit_groups[/code]
## the observation holds distances only.
class_name RayLayout
extends RefCounted

## The most rays one sensor may cast per observation.
const MAX_RAYS := 4096


## Why this configuration cannot work, or "" when it can.
static func check_config(ray_count: int, ray_length: float) -> String:
	if ray_count <= 0:
		return "ray count %d: there must be at least 1 ray" % ray_count
	if ray_count > MAX_RAYS:
		return "ray count %d: at most %d rays per sensor" % [ray_count, MAX_RAYS]
	if not (ray_length > 0.0) or is_inf(ray_length):
		return "ray_length %s: must be a positive, finite distance" % ray_length
	return ""


## Values per observation: one distance per ray, plus one class per ray when classes are on.
static func size(ray_count: int, with_classes: bool) -> int:
	return ray_count * (2 if with_classes else 1)


## The hit class of [param collider] (see the class description).
static func hit_class(collider: Object, hit_groups: Array[StringName]) -> float:
	var node := collider as Node
	if node == null:
		return 0.0
	for i in hit_groups.size():
		if node.is_in_group(hit_groups[i]):
			return float(i + 1)
	return 0.0


## True when this configuration can work; otherwise false, with an error naming [param who].
static func config_ok(ray_count: int, ray_length: float, who: String) -> bool:
	var problem := check_config(ray_count, ray_length)
	if problem:
		push_error("%s: %s" % [who, problem])
	return problem.is_empty()


## Sets what [param query] (a PhysicsRayQueryParameters2D or 3D) hits; the agent's own body
## [param own_body] (a CollisionObject2D or 3D, or null) is not an obstacle.
static func configure_query(query: RefCounted, collision_mask: int, bodies: bool, areas: bool, own_body: Object) -> void:
	query.set("collision_mask", collision_mask)
	query.set("collide_with_bodies", bodies)
	query.set("collide_with_areas", areas)
	var exclude: Array[RID] = []
	if own_body != null:
		exclude.append(own_body.call("get_rid"))
	query.set("exclude", exclude)


## False (with an error naming [param who]) when a sensor that is not [param usable] is asked to
## measure.
static func ready_to_measure(usable: bool, who: String) -> bool:
	if not usable:
		push_error("%s.measure: the sensor is not ready (not in the tree, or its configuration was refused)" % who)
	return usable


## One observation of [param n] rays from [param origin] (a Vector2 or Vector3):
## [param cast] takes a ray index and returns that ray's [code]intersect_ray[/code] result
## (empty when nothing was hit within [param ray_length]).
static func observe(n: int, origin: Variant, ray_length: float, normalize: bool, hit_groups: Array[StringName], cast: Callable) -> PackedFloat32Array:
	var classes := not hit_groups.is_empty()
	var out := PackedFloat32Array()
	out.resize(size(n, classes))
	for i in n:
		var hit: Dictionary = cast.call(i)
		var distance := ray_length
		if not hit.is_empty():
			distance = origin.distance_to(hit["position"])
			if classes:
				out[n + i] = hit_class(hit["collider"], hit_groups)
		out[i] = distance / ray_length if normalize else distance
	return out
