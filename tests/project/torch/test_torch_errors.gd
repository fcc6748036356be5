## Every failure of cTorchModel / cTorchModelData logs a clear error and gives an empty result,
## never a crash; the model keeps working afterwards. Each case prints "CASE <name>" first so
## the Python side can match its error message to it.
## User argument: a JSON object {case name: file path} (see tests/torch/conftest.py).
extends SceneTree

const Report := preload("res://lib/report.gd")

var r := Report.new()
var files: Dictionary
var x := PackedFloat32Array([0.5, -1.0, 2.0, 0.25])


func model_for(name: String) -> cTorchModel:
	var m := cTorchModel.new()
	m.set_data(load(files[name]))
	return m


func case(name: String) -> void:
	print("CASE ", name)


func _initialize() -> void:
	files = JSON.parse_string(OS.get_cmdline_user_args()[0])
	var good := model_for("good")
	var expected: PackedFloat32Array = good.run(x)
	r.check_eq(expected.size(), 2, "the good model runs")

	case("before_set_data")
	var empty := cTorchModel.new()
	r.check_eq(empty.run(x), PackedFloat32Array(), "run before set_data is empty")
	r.check(not empty.is_loaded(), "nothing loaded")
	r.check_eq(empty.get_output_size(), -1, "no output size without a model")

	for name in ["text", "random", "empty", "state_dict", "truncated"]:
		case(name)
		var data = load(files[name])
		r.check(data is cTorchModelData, "%s: the file loads as a resource (bytes only)" % name)
		var m := cTorchModel.new()
		m.set_data(data)
		r.check(not m.is_loaded(), "%s: set_data refuses it" % name)
		case(name + "_run")
		r.check_eq(m.run(x), PackedFloat32Array(), "%s: run() is empty" % name)
		r.check(m.model_data == data, "%s: the data stays attached" % name)

	case("missing")
	var missing = load(files["missing"])
	r.check(missing == null, "a missing file gives null")

	case("wrong_length")
	r.check_eq(good.run(PackedFloat32Array([1.0, 2.0, 3.0])), PackedFloat32Array(), "3 values for 4 is empty")
	case("wrong_length_batch")
	r.check_eq(good.run_batch(PackedFloat32Array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]), 2), PackedFloat32Array(), "7 values for 2 x 4")
	case("bad_rows")
	r.check_eq(good.run_batch(x, 0), PackedFloat32Array(), "rows = 0 is empty")
	case("empty_input")
	r.check_eq(good.run(PackedFloat32Array()), PackedFloat32Array(), "an empty input is empty")
	case("wrong_length_plain")
	var plain := model_for("plain")
	r.check_eq(plain.get_input_size(), -1, "a plain torch.jit.save file has no input size")
	r.check_eq(plain.run(PackedFloat32Array([1.0, 2.0, 3.0])), PackedFloat32Array(), "forward() failure is empty")
	r.check_eq(plain.run(x).size(), 2, "the plain model runs 4 values")
	case("warmup_unknown_shape")
	r.check(not plain.warmup(), "warmup() needs an input shape")
	plain.set_input_shape(PackedInt32Array([4]))
	r.check(plain.warmup(), "warmup() after set_input_shape")
	var fresh := model_for("plain")
	fresh.set_input_shape(PackedInt32Array([4]))
	r.check_eq(fresh.get_output_size(), -1, "no output size before any run")
	r.check(fresh.warmup(), "warmup() of a fresh model")
	r.check_eq(fresh.get_output_size(), 2, "warmup() tells the output size")

	case("int_output")
	var argmax := model_for("argmax")
	r.check(argmax.is_loaded(), "an int-output model loads")
	r.check_eq(argmax.run(x), PackedFloat32Array(), "an int64 output is empty")
	case("int_second_output")
	var mixed := model_for("float_and_index")
	r.check_eq(mixed.run(x).size(), 3, "run() takes the float first output of (float, int64)")
	r.check_eq(mixed.run_outputs(x), [], "run_outputs() refuses the int64 second output")
	case("dict_output")
	var dict_out := model_for("dict_out")
	r.check_eq(dict_out.run(x), PackedFloat32Array(), "a dict output is empty")

	case("bad_settings")
	good.set_num_threads(-1)
	r.check_eq(good.get_num_threads(), 1, "a negative thread count is refused")
	good.set_input_shape(PackedInt32Array([2, 0]))
	r.check_eq(good.get_input_shape(), PackedInt32Array([4]), "a zero dimension is refused")

	case("after")
	r.check_eq(good.run(x), expected, "the model still works after every error")
	r.result("survived", true)
	r.finish(self)
