## Waits on and posts "ping" while the host overwrites its bytes with garbage, round after
## round: every call must return (an error naming the semaphore is fine), never abort the
## engine. "ack" ends each round for the host; the last line sums up.
extends SceneTree


func _initialize() -> void:
	var ping := cSharedMemorySemaphore.new()
	var ack := cSharedMemorySemaphore.new()
	var ready_sem := cSharedMemorySemaphore.new()
	if not (ping.init("ping") and ack.init("ack") and ready_sem.init("ready")):
		quit(2)
		return
	var rounds := int(OS.get_cmdline_user_args()[-1])
	var failed_waits := 0
	var failed_posts := 0
	ready_sem.post()
	for i in rounds:
		if not ping.timed_wait(20000):
			failed_waits += 1
		if not ping.post():
			failed_posts += 1
		ack.post()
	print("ROUNDS DONE %d failed_waits=%d failed_posts=%d" % [rounds, failed_waits, failed_posts])
	quit(0)
