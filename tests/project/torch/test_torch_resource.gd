## cTorchModelData as a resource (.jit loader, preload, cache, properties, threaded load, saving
## as .tres) and cTorchModel's API around run(): the seed's usage, init(), model_data,
## input_shape, num_threads, the dynamic call path.
## User arguments: <mlp.jit> <tanh_policy.jit> <scratch folder>.
extends SceneTree

const Report := preload("res://lib/report.gd")
const PRELOADED := preload("res://generated/torch_preload.jit")
const PRELOAD_PATH := "res://generated/torch_preload.jit"


func _initialize() -> void:
	var r := Report.new()
	var args := OS.get_cmdline_user_args()
	var path: String = args[0]
	var other_path: String = args[1]
	var scratch: String = args[2]
	var x := PackedFloat32Array([0.5, -1.0, 2.0, 0.25])

	# The loader: .jit files are resources of type cTorchModelData.
	r.check(ResourceLoader.exists(path), "ResourceLoader.exists(absolute .jit path)")
	r.check(ResourceLoader.exists(PRELOAD_PATH), "ResourceLoader.exists(res:// .jit path)")
	r.check(ResourceLoader.exists(path, "cTorchModelData"), "exists with a cTorchModelData type hint")
	r.check(not ResourceLoader.exists(path.get_base_dir().path_join("nothing_here.jit")), "a missing .jit does not exist")
	r.check("jit" in ResourceLoader.get_recognized_extensions_for_type("cTorchModelData"), "jit recognised for cTorchModelData")
	r.check("jit" in ResourceLoader.get_recognized_extensions_for_type("Resource"), "jit recognised for Resource")
	r.check(not ("jit" in ResourceLoader.get_recognized_extensions_for_type("Texture2D")), "jit not offered for Texture2D")

	var data = load(path)
	r.check(data is cTorchModelData, "load() gives a cTorchModelData")
	r.check(data is Resource, "cTorchModelData is a Resource")
	r.check(load(path) == data, "load() again gives the cached resource")
	r.check(ResourceLoader.load(path, "Resource") == data, "load with a Resource type hint")
	r.check_eq(data.resource_path, path, "resource_path")
	r.result("data_size", data.data.size())
	r.check_eq(data.get_size(), data.data.size(), "get_size")
	r.check_eq(data.get_array(), data.data, "get_array() is the data property")
	r.check_eq(data.data, FileAccess.get_file_as_bytes(path), "data holds the file's bytes")

	# The seed's usage, kept exactly.
	var model = cTorchModel.new()
	model.set_data(data)
	var out = model.run(PackedFloat32Array([0.5, -1.0, 2.0, 0.25]))
	r.result("seed_out", Array(out))
	var typed := cTorchModel.new()
	typed.init(data)
	r.check_eq(typed.run(x), out, "init() is set_data()")
	var dynamic: Object = typed
	r.check_eq(dynamic.call("run", x), out, "run through the dynamic (varcall) path")
	r.check_eq(dynamic.call("run_batch", x, 1), out, "run_batch through the dynamic path")

	# Properties.
	r.check(typed.model_data == data, "model_data property")
	r.check(typed.get_data() == data, "get_data")
	var by_property := cTorchModel.new()
	by_property.model_data = data
	r.check(by_property.is_loaded(), "assigning model_data loads the model")
	r.check_eq(by_property.run(x), out, "model set by property runs")
	by_property.set("model_data", null)
	r.check(not by_property.is_loaded(), "model_data = null unloads")
	r.check(by_property.model_data == null, "model_data is null after unloading")
	r.check(typed.warmup(), "warmup()")
	r.check_eq(typed.input_shape, PackedInt32Array([4]), "input_shape from export_policy's metadata")
	r.check_eq(typed.get_input_size(), 4, "get_input_size")
	r.check_eq(typed.get_output_size(), 2, "get_output_size")
	var outs: Array = typed.run_outputs(x)
	r.check(outs.size() == 1 and outs[0] == out, "run_outputs of a single-tensor model is [run()]")

	# A cTorchModelData built in code from bytes, and one saved as a .tres and loaded back.
	var built := cTorchModelData.new()
	built.data = FileAccess.get_file_as_bytes(path)
	var from_bytes := cTorchModel.new()
	from_bytes.set_data(built)
	r.check_eq(from_bytes.run(x), out, "a cTorchModelData made in code")
	var tres := scratch.path_join("copy.tres")
	r.check_eq(ResourceSaver.save(data, tres), OK, "ResourceSaver.save(cTorchModelData, .tres)")
	var reloaded = ResourceLoader.load(tres, "", ResourceLoader.CACHE_MODE_IGNORE)
	r.check(reloaded is cTorchModelData and reloaded.data == data.data, "the .tres keeps the data property")
	var from_tres := cTorchModel.new()
	from_tres.set_data(reloaded)
	r.check_eq(from_tres.run(x), out, "a model from the .tres runs")
	# Replacing the bytes: a model picks them up at its next set_data.
	built.data = FileAccess.get_file_as_bytes(other_path)
	from_bytes.set_data(built)
	r.check_eq(from_bytes.get_input_size(), 8, "set_array + set_data switch to the new model")

	# preload() of a res:// .jit.
	r.check(PRELOADED is cTorchModelData, "preload() gives a cTorchModelData")
	r.check(load(PRELOAD_PATH) == PRELOADED, "load() of a preloaded path gives the same resource")
	var preloaded_model := cTorchModel.new()
	preloaded_model.set_data(PRELOADED)
	r.result("preload_out", Array(preloaded_model.run(x)))

	# From a resource pack, as in an exported game: the file exists only inside the .pck.
	var pck := scratch.path_join("models.pck")
	var packer := PCKPacker.new()
	packer.pck_start(pck)
	packer.add_file("res://packed_models/in_pack.jit", path)
	r.check_eq(packer.flush(), OK, "PCKPacker wrote a pack with a .jit")
	r.check(not FileAccess.file_exists(ProjectSettings.globalize_path("res://packed_models/in_pack.jit")), "not on disk")
	r.check(ProjectSettings.load_resource_pack(pck), "load_resource_pack")
	var packed = load("res://packed_models/in_pack.jit")
	r.check(packed is cTorchModelData and packed.data == data.data, "load() of a .jit inside a pack")
	var from_pack := cTorchModel.new()
	from_pack.set_data(packed)
	r.check_eq(from_pack.run(x), out, "a model from a pack runs")

	# A threaded load (the loader runs on a worker thread).
	ResourceLoader.load_threaded_request(other_path)
	while ResourceLoader.load_threaded_get_status(other_path) == ResourceLoader.THREAD_LOAD_IN_PROGRESS:
		OS.delay_msec(1)
	var threaded = ResourceLoader.load_threaded_get(other_path)
	r.check(threaded is cTorchModelData, "load_threaded_request / load_threaded_get")
	var policy := cTorchModel.new()
	policy.set_data(threaded)
	var obs := PackedFloat32Array([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8])
	r.result("policy_out", Array(policy.run(obs)))

	# Threads: 1 by default; any setting gives the same results.
	r.check_eq(typed.num_threads, 1, "one thread by default")
	var batch := PackedFloat32Array()
	for i in 64 * 4:
		batch.append(sin(i * 0.37) * 2.0)
	var one_thread: PackedFloat32Array = typed.run_batch(batch, 64)
	typed.set_num_threads(2)
	r.check_eq(typed.get_num_threads(), 2, "set_num_threads(2)")
	var two_threads: PackedFloat32Array = typed.run_batch(batch, 64)
	var worst := 0.0
	for i in one_thread.size():
		worst = maxf(worst, absf(one_thread[i] - two_threads[i]))
	r.check(two_threads.size() == one_thread.size() and worst <= 1e-6, "2 threads give the same batch", "max diff %s" % str(worst))
	r.check_eq(typed.run(x), out, "2 threads, one row")
	typed.num_threads = 0
	r.check_eq(typed.num_threads, 0, "num_threads = 0: libtorch's default")
	r.check_eq(typed.run(x), out, "libtorch's default thread count")

	model = null
	dynamic = null
	r.finish(self)
