## read_into(target, offset): fills the caller's own array in place (seen through every variable
## that shares it, nothing allocated), for each tensor type; refuses bad offsets and targets of the
## wrong type with an error, leaving the target untouched. The tensors hold 0, 1, 2, ... (host).
extends SceneTree

const Report := preload("res://lib/report.gd")


func _initialize() -> void:
	var r := Report.new()
	var mem := cSharedMemory.new()
	r.check(mem.exists(), "attached to the --handle chunk")
	var floats: cPersistentFloatTensor = mem.findFloatTensor("floats")
	var ints: cPersistentIntTensor = mem.findIntTensor("ints")
	var bytes: cPersistentUintTensor = mem.findUintTensor("bytes")

	var f := PackedFloat32Array([-1.0, -1.0, -1.0])
	var alias := f  # packed arrays in Variants are shared: the alias must see the values too
	r.check(floats.read_into(f, 5), "float read_into at 5")
	r.check_eq(f, PackedFloat32Array([5.0, 6.0, 7.0]), "float rows 5..7")
	r.check_eq(alias, PackedFloat32Array([5.0, 6.0, 7.0]), "the alias sees the same array")
	r.check(floats.read_into(f, 7), "refilled in place at 7 (the last three)")
	r.check_eq(alias, PackedFloat32Array([7.0, 8.0, 9.0]), "float rows 7..9 through the alias")
	var empty := PackedFloat32Array()
	r.check(floats.read_into(empty, 10), "an empty target at the end reads nothing")

	var i := PackedInt32Array()
	i.resize(4)
	r.check(ints.read_into(i, 0), "int read_into at 0")
	r.check_eq(i, PackedInt32Array([0, 1, 2, 3]), "int rows 0..3")
	var b := PackedByteArray()
	b.resize(2)
	r.check(bytes.read_into(b, 8), "byte read_into at 8")
	r.check_eq(b, PackedByteArray([8, 9]), "byte rows 8..9")

	# refused: out of range, negative offset, the wrong array type; the target stays as it was
	r.check(not floats.read_into(f, 8), "3 floats at 8 of 10 refused")
	r.check(not floats.read_into(f, -1), "negative offset refused")
	r.check_eq(f, PackedFloat32Array([7.0, 8.0, 9.0]), "target untouched by refused reads")
	r.check(not floats.read_into(i, 0), "an int array into a float tensor refused")
	r.check(not ints.read_into(null, 0), "null target refused")
	r.check_eq(i, PackedInt32Array([0, 1, 2, 3]), "wrong-type target untouched")
	r.finish(self)
