## The error cases named by the `--case` user arguments, in their order, in one run (the cases
## that look up entries share the chunk of --handle; those that init() use objects of their own):
## each must log its message and return null/false, never crash.
extends SceneTree

const Report := preload("res://lib/report.gd")


func _initialize() -> void:
	var r := Report.new()
	var args := OS.get_cmdline_user_args()
	var mem := cSharedMemory.new()
	for i in args.size():
		if args[i] == "--case":
			_run_case(args[i + 1], args, mem, r)
	r.finish(self)


func _run_case(case_name: String, args: PackedStringArray, mem: cSharedMemory, r: Report) -> void:
	match case_name:
		"no_handle":
			r.check(not mem.exists(), "not attached without --handle")
			r.check(mem.findFloatTensor("x") == null, "lookup returns null")
			var sem := cSharedMemorySemaphore.new()
			r.check(not sem.init("s"), "semaphore init fails")
			r.check(not sem.post(), "post on an uninitialised semaphore fails")
		"missing_chunk":  # --handle names no chunk: detached, with one warning however many objects
			r.check(not mem.exists(), "not attached to a missing chunk")
			r.check(not cSharedMemory.new().exists(), "a second object is not attached either")
		"absent":
			r.check(not cSharedMemory.new().init("aigym_no_such_chunk_0000"), "init of an absent chunk fails")
		"bad_handle":
			r.check(not cSharedMemory.new().init("../etc/passwd"), "init with an invalid handle fails")
		"corrupt":
			r.check(not cSharedMemory.new().init(args[args.find("--target") + 1]), "init of a corrupt chunk fails")
		"unknown_name":
			r.check(mem.findFloatTensor("nope") == null, "unknown tensor is null")
		"wrong_kind":
			r.check(mem.findIntTensor("floats") == null, "int lookup of a float tensor is null")
			r.check(mem.findSemaphore("floats") == null, "semaphore lookup of a tensor is null")
		"wrong_length":
			var t: cPersistentFloatTensor = mem.findFloatTensor("floats")
			r.check(not t.write(PackedFloat32Array([1.0, 2.0])), "short write refused")
			r.check_eq(t.read(), PackedFloat32Array([7.0, 7.0, 7.0, 7.0]), "tensor untouched by the refused write")
		"named_arrays":  # the original GodotAIGym's first calls, on the host's tensors
			r.check_eq(mem.getFloatArray("floats"), PackedFloat32Array([7.0, 7.0, 7.0, 7.0]), "getFloatArray copies")
			r.check(mem.sendIntArray("ints", [1, 0]), "sendIntArray takes an Array of the tensor's length")
			r.check_eq(mem.getIntArray("ints"), PackedInt32Array([1, 0]), "getIntArray reads what was sent")
			r.check(mem.sendFloatArray("floats", PackedFloat32Array([1.0, 2.0, 3.0, 4.0])), "sendFloatArray")
			r.check_eq(mem.getFloatArray("floats"), PackedFloat32Array([1.0, 2.0, 3.0, 4.0]), "sent floats arrive")
			r.check(mem.sendFloatArray("floats", [7.0, 7.0, 7.0, 7.0]), "sendFloatArray takes an Array")
			r.check_eq(mem.getFloatArray("ints"), PackedFloat32Array(), "mis-typed get is empty")
			r.check_eq(mem.getIntArray("nope"), PackedInt32Array(), "unknown get is empty")
			r.check(not mem.sendFloatArray("floats", [1.0]), "send of another length refused")
			r.check(not mem.sendIntArray("floats", [1, 2, 3, 4]), "mis-typed send refused")
			r.check_eq(mem.getFloatArray("floats"), PackedFloat32Array([7.0, 7.0, 7.0, 7.0]), "refused sends change nothing")
		"bad_values":  # plain Arrays Godot would convert silently into a Packed*Array
			var f: cPersistentFloatTensor = mem.findFloatTensor("floats")
			r.check(not f.write(["a", "b", "c", "d"]), "strings into a float tensor refused")
			r.check(not f.write([[1], [2], [3], [4]]), "nested arrays into a float tensor refused")
			r.check(not f.write([1.0, 2.0, RefCounted.new(), 4.0]), "an object into a float tensor refused")
			r.check(not f.write("abcd"), "a String is not an array")
			r.check(not f.write(PackedFloat64Array([1.0, 2.0, 3.0, 4.0])), "another packed type refused")
			r.check_eq(f.read(), PackedFloat32Array([7.0, 7.0, 7.0, 7.0]), "refused writes change nothing")
			r.check(f.write([1, 2.5, true, -3]), "ints, floats and bools into a float tensor")
			r.check_eq(f.read(), PackedFloat32Array([1.0, 2.5, 1.0, -3.0]), "written as numbers")
			r.check(f.write(PackedFloat32Array([7.0, 7.0, 7.0, 7.0])), "the tensor's own packed type")
			var i: cPersistentIntTensor = mem.findIntTensor("ints")
			r.check(not i.write([2 ** 40, 0]), "an int beyond int32 refused")
			r.check(not i.write([1.7, 0]), "a float into an int tensor refused")
			r.check(i.write([-5, true]), "ints and bools into an int tensor")
			r.check_eq(i.read(), PackedInt32Array([-5, 1]), "ints written")
			var u: cPersistentUintTensor = mem.findUintTensor("bytes")
			r.check(not u.write([-1, 300]), "ints outside uint8 refused")
			r.check(u.write([0, 255]), "ints within uint8")
			r.check_eq(u.read(), PackedByteArray([0, 255]), "bytes written")
			r.check(not mem.sendIntArray("ints", [0, "x"]), "sendIntArray checks the Array too")
			r.check(not mem.sendFloatArray("floats", null), "sendFloatArray of null refused")
			r.check_eq(i.read(), PackedInt32Array([-5, 1]), "refused send changes nothing")
		"unknown_semaphore":
			var sem := cSharedMemorySemaphore.new()
			r.check(not sem.init("no_such_sem"), "init of an unknown semaphore fails")
		"fuzz":
			var handles: Array = JSON.parse_string(args[args.find("--targets") + 1])
			var accepted := 0
			for h in handles:
				var m := cSharedMemory.new()
				if m.init(h):
					accepted += 1
					for name in ["floats", "ints", "s"]:
						var t = m.findFloatTensor(name)
						if t != null:
							t.read()
			r.result("fuzz_accepted", accepted)
