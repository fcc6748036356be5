## Reads every tensor the host wrote, transforms it and writes the result back:
## int32 x -> 3x + 1, float32 x -> 2x + 0.5, uint8 x -> 255 - x. Then posts "done".
extends SceneTree

const Report := preload("res://lib/report.gd")


func _initialize() -> void:
	var r := Report.new()
	var mem := cSharedMemory.new()
	r.check(mem.exists(), "attached to the --handle chunk")
	r.result("handle", mem.get_handle())
	var sizes: Array = JSON.parse_string(OS.get_cmdline_user_args()[-1])
	for n in sizes:
		var ints: cPersistentIntTensor = mem.findIntTensor("int_%d" % n)
		var floats: cPersistentFloatTensor = mem.findFloatTensor("float_%d" % n)
		var bytes: cPersistentUintTensor = mem.findUintTensor("uint_%d" % n)
		r.check_eq(ints.size(), n, "int tensor size %d" % n)
		r.check_eq(floats.get_name(), "float_%d" % n, "float tensor name")
		var a: PackedInt32Array = ints.read()
		for i in a.size():
			a[i] = a[i] * 3 + 1
		r.check(mem.findIntTensor("int_out_%d" % n).write(a), "write int_out_%d" % n)
		var f: PackedFloat32Array = floats.read()
		for i in f.size():
			f[i] = f[i] * 2.0 + 0.5
		r.check(mem.findFloatTensor("float_out_%d" % n).write(f), "write float_out_%d" % n)
		var b: PackedByteArray = bytes.read()
		for i in b.size():
			b[i] = 255 - b[i]
		r.check(mem.findUintTensor("uint_out_%d" % n).write(b), "write uint_out_%d" % n)
	var done: cSharedMemorySemaphore = mem.findSemaphore("done")
	r.check(done.post(), "post done")
	r.finish(self)
