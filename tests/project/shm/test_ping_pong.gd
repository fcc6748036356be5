## Semaphore round trips, seed style: wait "ping", read the counter, write counter + 1,
## post "pong"; N times. Every value is checked on both sides.
extends SceneTree

const Report := preload("res://lib/report.gd")


func _initialize() -> void:
	var r := Report.new()
	var mem = cSharedMemory.new()
	var ping := cSharedMemorySemaphore.new()
	var pong := cSharedMemorySemaphore.new()
	r.check(ping.init("ping"), "init ping")
	r.check(pong.init("pong"), "init pong")
	var counter: cPersistentIntTensor = mem.findIntTensor("counter")
	var rounds := int(OS.get_cmdline_user_args()[-1])
	var mismatches := 0
	var value := PackedInt32Array([0])
	for i in rounds:
		if not ping.wait():
			r.check(false, "wait returned false at round %d" % i)
			break
		value = counter.read()
		if value[0] != 2 * i + 1:
			mismatches += 1
		value[0] += 1
		counter.write(value)
		pong.post()
	r.result("mismatches", mismatches)
	r.result("extra_pings", 1 if ping.try_wait() else 0)
	r.finish(self)
