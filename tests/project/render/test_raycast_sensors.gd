## Raycast sensors against known walls (no rendering needed): prints each sensor's observation
## as a RESULT for the Python side to compare with the geometry; checks the refused configurations.
extends SceneTree

const Report := preload("res://lib/report.gd")


func _initialize() -> void:
	var r := Report.new()
	# 3D: a wall whose near face is the plane z = -5, in group "wall"
	var world3 := Node3D.new()
	root.add_child(world3)
	var wall3 := StaticBody3D.new()
	var box := CollisionShape3D.new()
	box.shape = BoxShape3D.new()
	box.shape.size = Vector3(100, 100, 2)
	wall3.add_child(box)
	wall3.position = Vector3(0, 0, -6)
	wall3.add_to_group("wall")
	world3.add_child(wall3)
	var fan3 := RaycastSensor3D.new()
	fan3.columns = 5
	fan3.rows = 3
	fan3.cone_width = 60.0
	fan3.cone_height = 40.0
	fan3.ray_length = 20.0
	fan3.hit_groups = [&"enemy", &"wall"]
	world3.add_child(fan3)
	var back3 := RaycastSensor3D.new()  # looks away from the wall: nothing within reach
	back3.columns = 2
	back3.ray_length = 8.0
	back3.normalize = true
	back3.rotation_degrees = Vector3(0, 180, 0)
	world3.add_child(back3)
	r.check_eq(fan3.get_shape(), PackedInt32Array([30]), "3D shape: 15 distances + 15 classes")
	r.check_eq(back3.get_shape(), PackedInt32Array([2]), "3D shape without classes")
	r.check_eq(fan3.get_dtype(), "float32", "raycast dtype")

	# 2D: a wall whose near face is the line x = 10, in group "wall"; the sensor turned by 30°
	var world2 := Node2D.new()
	root.add_child(world2)
	var wall2 := StaticBody2D.new()
	var rect := CollisionShape2D.new()
	rect.shape = RectangleShape2D.new()
	rect.shape.size = Vector2(2, 1000)
	wall2.add_child(rect)
	wall2.position = Vector2(11, 0)
	wall2.add_to_group("wall")
	world2.add_child(wall2)
	var fan2 := RaycastSensor2D.new()
	fan2.ray_count = 3
	fan2.cone_width = 60.0
	fan2.ray_length = 100.0
	fan2.rotation_degrees = 30.0
	fan2.hit_groups = [&"wall"]
	world2.add_child(fan2)

	await physics_frame
	await physics_frame
	r.result("fan3", Array(fan3.measure()))
	r.result("back3", Array(back3.measure()))
	r.result("fan2", Array(fan2.measure()))

	for bad in [[0, 1, 10.0], [4097, 1, 10.0], [1, 1, 0.0], [1, 1, INF]]:
		var s := RaycastSensor3D.new()
		s.columns = bad[0]
		s.rows = bad[1]
		s.ray_length = bad[2]
		world3.add_child(s)
		r.check(s.measure().is_empty(), "refused raycast configuration %s measures nothing" % [bad])
	world3.queue_free()
	world2.queue_free()
	await process_frame
	r.finish(self)
