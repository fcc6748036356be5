## Looks one tensor up again and again through every call that reads a directory entry
## (getFloatArray, sendFloatArray, findFloatTensor) while the host flips that entry between its
## true fields and hostile ones. Each call either works on the true fields or logs an error:
## never reads or writes outside the chunk. The last line sums up.
extends SceneTree


func _initialize() -> void:
	var mem := cSharedMemory.new()
	var ready_sem := mem.findSemaphore("ready")
	var go := mem.findSemaphore("go")
	var calls := int(OS.get_cmdline_user_args()[-2])
	var n := int(OS.get_cmdline_user_args()[-1])  # the tensor's true length
	if ready_sem == null or go == null:
		quit(2)
		return
	var values := PackedFloat32Array()
	values.resize(n)
	var worked := 0
	var refused := 0
	var wrong := 0
	ready_sem.post()
	go.wait()  # the host flips from now on
	for i in calls:
		var got := mem.getFloatArray("x")
		if got.size() == n:
			worked += 1
		elif got.size() == 0:
			refused += 1
		else:
			wrong += 1
		if mem.sendFloatArray("x", values):
			worked += 1
		else:
			refused += 1
		var tensor := mem.findFloatTensor("x")
		if tensor == null:
			refused += 1
		elif tensor.size() == n:
			worked += 1
		else:
			wrong += 1
	print("RACE DONE calls=%d worked=%d refused=%d wrong=%d" % [calls, worked, refused, wrong])
	ready_sem.post()
	quit(0)
