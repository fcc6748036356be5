## Benchmark of cTorchModel from GDScript (driven by bench/bench_torch.py).
## User arguments: <model.jit> <input size> <calls per repeat> <repeats> <batch rows> <batch calls>.
## Prints RESULT lines: per-repeat microseconds per run() call, per-repeat microseconds per
## run_batch() call, and the outputs for a cross-check with Python.
extends SceneTree

const Report := preload("res://lib/report.gd")


func _initialize() -> void:
	var r := Report.new()
	var args := OS.get_cmdline_user_args()
	var data: cTorchModelData = load(args[0])
	var in_size := int(args[1])
	var calls := int(args[2])
	var repeats := int(args[3])
	var rows := int(args[4])
	var batch_calls := int(args[5])

	var model := cTorchModel.new()
	model.set_data(data)
	model.set_num_threads(1)
	var x := PackedFloat32Array()
	for i in in_size:
		x.append(sin(i * 0.7) * 0.9)
	var batch := PackedFloat32Array()
	for i in rows * in_size:
		batch.append(sin(i * 0.31) * 1.3)

	# Warm up: the TorchScript executor profiles and optimises the graph on the first calls.
	for i in 2000:
		model.run(x)
	for i in 50:
		model.run_batch(batch, rows)

	var run_us: Array[float] = []
	for rep in repeats:
		var t0 := Time.get_ticks_usec()
		for i in calls:
			model.run(x)
		run_us.append(float(Time.get_ticks_usec() - t0) / calls)
	var batch_us: Array[float] = []
	for rep in repeats:
		var t0 := Time.get_ticks_usec()
		for i in batch_calls:
			model.run_batch(batch, rows)
		batch_us.append(float(Time.get_ticks_usec() - t0) / batch_calls)

	r.result("run_us", run_us)
	r.result("batch_us", batch_us)
	r.result("out", Array(model.run(x)))
	r.result("batch_out_head", Array(model.run_batch(batch, rows).slice(0, 8)))
	r.finish(self)
