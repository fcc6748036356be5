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
