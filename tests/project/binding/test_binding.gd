## Round-trips every conversion of the binding layer through cBindingProbe, on both engine
## calling paths: typed calls (ptrcall) and untyped/dynamic calls (varcall).
extends SceneTree

const Report := preload("res://lib/report.gd")


func _initialize() -> void:
	var r := Report.new()
	var probe := cBindingProbe.new()
	var dynamic: Object = probe  # calls through an untyped Object go through varcall

	r.result("describe", probe.describe())
	# Scalars, typed (ptrcall) and dynamic (varcall).
	r.check_eq(probe.echo_int(-9007199254740993), -9007199254740993, "int64 ptrcall")
	r.check_eq(dynamic.call("echo_int", 1 << 62), 1 << 62, "int64 varcall")
	r.check_eq(probe.echo_float(1.0 / 3.0), 1.0 / 3.0, "double ptrcall")
	r.check_eq(dynamic.call("echo_float", 2.5), 2.5, "double varcall")
	r.check_eq(dynamic.call("echo_float", 7), 7.0, "int converts to float argument (varcall)")
	r.check_eq(probe.half_float(3.0), 1.5, "float32 metadata")
	r.check_eq(probe.add_int32(2147483647, 1), -2147483648, "int32 wraps around")
	r.check_eq(probe.add_int32(-5, 3), -2, "int32 negative")
	r.check_eq(probe.echo_bool(true), true, "bool ptrcall")
	r.check_eq(dynamic.call("echo_bool", false), false, "bool varcall")
	var text := "héllo wörld ✓ 日本"
	r.check_eq(probe.echo_string(text), text, "utf-8 String ptrcall")
	r.check_eq(dynamic.call("echo_string", text), text, "utf-8 String varcall")
	r.check_eq(probe.echo_string(""), "", "empty String")
	r.check_eq(probe.string_name_length(&"abcdé"), 6, "StringName argument (utf-8 bytes)")
	r.check_eq(probe.echo_variant([1, "two", 3.0]), [1, "two", 3.0], "Variant array round trip")
	r.check_eq(probe.echo_variant(null), null, "Variant null")
	r.check_eq(probe.split_words("a bb  ccc"), PackedStringArray(["a", "bb", "ccc"]), "PackedStringArray return")

	# Packed arrays of 0, 1 and 1,000,000 elements on both paths.
	for n in [0, 1, 1000000]:
		var ints := PackedInt32Array()
		ints.resize(n)
		for i in n:
			ints[i] = i * 7 - 3
		var rev: PackedInt32Array = probe.reverse_int32(ints)
		var ok: bool = rev.size() == n
		if ok and n > 0:
			ok = rev[0] == ints[n - 1] and rev[n - 1] == ints[0] and rev[n / 2] == ints[n - 1 - n / 2]
		r.check(ok, "PackedInt32Array reverse n=%d" % n)
		r.check_eq(ints.size(), n, "argument array untouched n=%d (copy-on-write)" % n)
		if n > 0:
			r.check_eq(ints[0], -3, "argument array values untouched n=%d" % n)

		var floats := PackedFloat32Array()
		floats.resize(n)
		for i in n:
			floats[i] = float(i % 1000) * 0.25
		var scaled: PackedFloat32Array = dynamic.call("scale_float32", floats, 4.0)
		var fok: bool = scaled.size() == n
		for i in range(0, n, max(1, n / 1000)):
			fok = fok and scaled[i] == floats[i] * 4.0
		r.check(fok, "PackedFloat32Array scale varcall n=%d" % n)
		r.result("sum_float32_%d" % n, probe.sum_float32(floats))

		var bytes := PackedByteArray()
		bytes.resize(n)
		for i in n:
			bytes[i] = i % 256
		var xored: PackedByteArray = probe.xor_bytes(bytes, 0xA5)
		var bok: bool = xored.size() == n
		for i in range(0, n, max(1, n / 1000)):
			bok = bok and xored[i] == ((i % 256) ^ 0xA5)
		r.check(bok, "PackedByteArray xor n=%d" % n)

	# Properties and object references.
	probe.counter = 41
	r.check_eq(probe.counter, 41, "property set/get")
	r.check_eq(probe.get("counter"), 41, "property through Object.get")
	var child: cBindingProbe = probe.make_child(7)
	r.check_eq(child.counter, 7, "object returned by ptrcall")
	var child2 = dynamic.call("make_child", 8)
	r.check_eq(child2.counter, 8, "object returned by varcall")
	r.check_eq(probe.counter_of(child), 7, "object argument ptrcall")
	r.check_eq(dynamic.call("counter_of", child2), 8, "object argument varcall")
	r.result("live_with_children", probe.live_instances())
	child = null
	child2 = null
	r.result("live_after_release", probe.live_instances())

	# Error paths: reported, never a crash.
	r.result("counter_of_null", probe.counter_of(null))
	probe.fail("deliberate failure from the test")
	r.result("after_exception", probe.echo_int(5))
	r.result("is_refcounted", probe is RefCounted)
	r.result("class", probe.get_class())
	probe = null
	dynamic = null
	r.finish(self)
