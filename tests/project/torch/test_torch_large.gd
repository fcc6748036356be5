## A model of ~200 MB: the loader reads it into the resource, set_data deserialises it from
## memory once, and its outputs match Python's. Timings are reported as results.
## User arguments: <large.jit> <inputs.bin> <expected.bin>.
extends SceneTree

const Report := preload("res://lib/report.gd")


func _initialize() -> void:
	var r := Report.new()
	var args := OS.get_cmdline_user_args()
	var t0 := Time.get_ticks_usec()
	var data: cTorchModelData = load(args[0])
	var t1 := Time.get_ticks_usec()
	var model := cTorchModel.new()
	var pages0 := resident_pages()
	model.set_data(data)
	var t2 := Time.get_ticks_usec()
	r.result("set_data_pages", resident_pages() - pages0)
	r.check(model.is_loaded(), "the large model loads")
	r.result("data_size", data.get_size())
	r.result("load_ms", (t1 - t0) / 1000.0)
	r.result("set_data_ms", (t2 - t1) / 1000.0)

	var x := FileAccess.get_file_as_bytes(args[1]).to_float32_array()
	var expected := FileAccess.get_file_as_bytes(args[2]).to_float32_array()
	var rows := x.size() / 4
	var worst := 0.0
	var t3 := Time.get_ticks_usec()
	for i in rows:
		var y := model.run(x.slice(i * 4, i * 4 + 4))
		for k in y.size():
			worst = maxf(worst, absf(y[k] - expected[i * 2 + k]))
	r.result("run_ms", (Time.get_ticks_usec() - t3) / 1000.0 / rows)
	r.result("maxerr", worst)
	# A second model on the same resource shares the deserialised module (no second load).
	var t4 := Time.get_ticks_usec()
	var again := cTorchModel.new()
	var pages1 := resident_pages()
	again.set_data(data)
	r.result("second_set_data_ms", (Time.get_ticks_usec() - t4) / 1000.0)
	r.result("second_set_data_pages", resident_pages() - pages1)
	r.check_eq(again.run(x.slice(0, 4)), model.run(x.slice(0, 4)), "the second model gives the same output")
	r.finish(self)


## Resident pages of this engine (/proc/self/statm): what a load adds, however fast the machine.
func resident_pages() -> int:
	return int(FileAccess.open("/proc/self/statm", FileAccess.READ).get_line().split(" ")[1])
