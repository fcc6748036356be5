## Models traced in Python give the same outputs in Godot: every model of the manifest (first
## user argument) runs its 1,000 inputs one row at a time with run() (and run_outputs() for
## tuple outputs), then all at once with run_batch(), against Python's outputs.
extends SceneTree

const Report := preload("res://lib/report.gd")
const TOLERANCE := 1e-6


func floats(path: String) -> PackedFloat32Array:
	return FileAccess.get_file_as_bytes(path).to_float32_array()


func max_abs_diff(a: PackedFloat32Array, a_from: int, b: PackedFloat32Array, b_from: int, n: int) -> float:
	var worst := 0.0
	for i in n:
		worst = maxf(worst, absf(a[a_from + i] - b[b_from + i]))
	return worst


func check_case(r: Report, case: Dictionary) -> void:
	var name: String = case["name"]
	var data: cTorchModelData = load(case["file"])
	if not r.check(data != null, "%s: load() gives a cTorchModelData" % name):
		return
	var model := cTorchModel.new()
	model.set_data(data)
	if case["set_shape"]:
		r.check_eq(model.get_input_size(), -1, "%s: no metadata, so no input size before set_input_shape" % name)
		model.set_input_shape(PackedInt32Array(case["input_shape"]))
	r.check(model.is_loaded(), "%s: is_loaded" % name)
	r.check_eq(model.get_input_shape(), PackedInt32Array(case["input_shape"]), "%s: input shape" % name)

	var x := floats(case["inputs"])
	var out_sizes: Array = case["output_sizes"]
	var expected: Array[PackedFloat32Array] = []
	for p in case["outputs"]:
		expected.append(floats(p))
	var in_size := 1
	for d in case["input_shape"]:
		in_size *= int(d)
	var rows := x.size() / in_size
	r.check_eq(model.get_input_size(), in_size, "%s: input size" % name)

	# One row at a time: run() gives the first output; run_outputs() every output.
	var worst := 0.0
	var worst_all := 0.0
	var sizes_ok := true
	for i in rows:
		var row := x.slice(i * in_size, (i + 1) * in_size)
		var y: PackedFloat32Array = model.run(row)
		sizes_ok = sizes_ok and y.size() == int(out_sizes[0])
		worst = maxf(worst, max_abs_diff(y, 0, expected[0], i * int(out_sizes[0]), y.size()))
		if out_sizes.size() > 1:
			var outs: Array = model.run_outputs(row)
			sizes_ok = sizes_ok and outs.size() == out_sizes.size()
			for k in outs.size():
				var yk: PackedFloat32Array = outs[k]
				worst_all = maxf(worst_all, max_abs_diff(yk, 0, expected[k], i * int(out_sizes[k]), yk.size()))
	r.check(sizes_ok, "%s: output sizes" % name)
	r.check(worst <= TOLERANCE, "%s: run() matches Python to %s over %d inputs" % [name, str(TOLERANCE), rows], "max diff %s" % str(worst))
	r.result("rows_" + name, rows)
	r.result("maxerr_" + name, worst)
	if out_sizes.size() > 1:
		r.check(worst_all <= TOLERANCE, "%s: run_outputs() matches Python" % name, "max diff %s" % str(worst_all))
		r.result("maxerr_outputs_" + name, worst_all)
	r.check_eq(model.get_output_size(), int(out_sizes[0]), "%s: get_output_size" % name)

	# All rows in one call: run_batch() equals the row-by-row results (first output).
	var batch: PackedFloat32Array = model.run_batch(x, rows)
	r.check_eq(batch.size(), rows * int(out_sizes[0]), "%s: run_batch size" % name)
	var batch_worst := max_abs_diff(batch, 0, expected[0], 0, mini(batch.size(), expected[0].size()))
	r.check(batch_worst <= TOLERANCE, "%s: run_batch equals row by row" % name, "max diff %s" % str(batch_worst))
	r.result("batch_maxerr_" + name, batch_worst)


func _initialize() -> void:
	var r := Report.new()
	var manifest: Array = JSON.parse_string(FileAccess.get_file_as_string(OS.get_cmdline_user_args()[0]))
	for case in manifest:
		check_case(r, case)
	r.result("cases", manifest.size())
	r.finish(self)
