## Camera sensors in one engine, no shared memory: exact bytes of a known 2D picture (RGB and
## GRAY), a 3D scene's unshaded colours and background, and the configuration errors.
## Prints RESULT lines the Python side compares with what it expects.
extends SceneTree

const Report := preload("res://lib/report.gd")
const Pattern := preload("res://render/pattern_2d.gd")
const W := 8
const H := 6
const COLORS := [[255, 0, 0], [17, 130, 250], [0, 0, 0], [200, 201, 30]]
const COLORS_MOVED := [[1, 2, 3], [250, 250, 250], [90, 0, 180], [0, 255, 0]]
const MOVED := Vector2(100, 0)


func _initialize() -> void:
	var r := Report.new()
	var world2d := Node2D.new()
	root.add_child(world2d)
	Pattern.build(world2d, Vector2.ZERO, W, H, COLORS)
	Pattern.build(world2d, MOVED, W, H, COLORS_MOVED)
	var rgb := Pattern.camera(Vector2.ZERO, W, H, false)
	var gray := Pattern.camera(Vector2.ZERO, W, H, true)
	world2d.add_child(rgb)
	world2d.add_child(gray)

	# 3D: a red unshaded box straight ahead on a blue background, seen from a SubViewport of its own
	# world so the 2D picture does not overlap it.
	var vp3 := SubViewport.new()
	vp3.own_world_3d = true
	vp3.size = Vector2i(4, 4)
	root.add_child(vp3)
	var world3d := Node3D.new()
	vp3.add_child(world3d)
	var box := MeshInstance3D.new()
	var mesh := BoxMesh.new()
	mesh.size = Vector3(4, 4, 0.1)
	var mat := StandardMaterial3D.new()
	mat.shading_mode = BaseMaterial3D.SHADING_MODE_UNSHADED
	mat.albedo_color = Color8(255, 0, 0)
	mesh.material = mat
	box.mesh = mesh
	box.position = Vector3(0, 0, -3)
	world3d.add_child(box)
	var env := Environment.new()
	env.background_mode = Environment.BG_COLOR
	env.background_color = Color8(0, 0, 255)
	var cam3 := CameraSensor3D.new()
	cam3.width = 12
	cam3.height = 9
	cam3.fov = 90.0
	cam3.environment = env
	cam3.position = Vector3(0, 0, 0)
	world3d.add_child(cam3)
	r.check_eq(cam3.get_shape(), PackedInt32Array([9, 12, 3]), "CameraSensor3D shape (H, W, C)")
	r.check_eq(cam3.get_dtype(), "uint8", "CameraSensor3D dtype")

	await RenderingServer.frame_post_draw
	await RenderingServer.frame_post_draw
	var rgb_bytes := rgb.capture()
	var gray_bytes := gray.capture()
	r.check_eq(rgb_bytes.size(), H * W * 3, "RGB frame is H*W*3 bytes")
	r.check_eq(gray_bytes.size(), H * W, "GRAY frame is H*W bytes")
	r.result("rgb_2d", Array(rgb_bytes))
	r.result("gray_2d", Array(gray_bytes))
	var bytes3 := cam3.capture()
	r.check_eq(bytes3.size(), 9 * 12 * 3, "3D frame is H*W*3 bytes")
	r.result("rgb_3d", Array(bytes3))

	# moved in game code: the very next frame shows the new view (the cameras follow right before drawing)
	rgb.position += MOVED
	cam3.rotation_degrees = Vector3(0, 180, 0)  # the box is now behind it
	await RenderingServer.frame_post_draw
	r.result("rgb_2d_moved", Array(rgb.capture()))
	r.result("rgb_3d_turned", Array(cam3.capture()))

	# a size changed after the camera entered the tree: its shape no longer matches what it renders
	cam3.width = 13
	r.check(cam3.capture().is_empty(), "a frame that does not match the declared shape is refused")
	cam3.width = 12

	# configuration errors: each refused with a push_error naming the problem
	for bad in [Vector2i(0, 4), Vector2i(4, 0), Vector2i(CameraFrame.MAX_SIDE + 1, 4)]:
		var c := CameraSensor2D.new()
		c.width = bad.x
		c.height = bad.y
		world2d.add_child(c)
		r.check(c.get_viewport_node() == null, "camera of size %s refused" % bad)
		r.check(c.capture().is_empty(), "refused camera captures nothing")
	var bad_format := CameraSensor3D.new()
	bad_format.color_format = 7
	world3d.add_child(bad_format)
	r.check(bad_format.get_viewport_node() == null, "camera with an unknown colour format refused")
	var small := PackedByteArray()
	small.resize(3)
	r.check(not CameraFrame.write_into(rgb_bytes, null, 0, "test"), "null tensor refused")

	vp3.queue_free()
	world2d.queue_free()
	await process_frame
	r.finish(self)
