## A game written against the original GodotAIGym API, by its names: every step waits on
## "sem_action", reads "action" with getFloatArray, looks "observation" up with findFloatTensor
## and writes it, sends "done" with sendIntArray, and answers on "sem_observation". For the
## live-corruption fuzz: each call either works or logs an error naming what was wrong; the
## game ends when its wait for ever returns false (the host quit or died, or the semaphore
## is garbage: the wait then quits the SceneTree itself).
extends SceneTree


func _initialize() -> void:
	var mem := cSharedMemory.new()
	var sem_action := cSharedMemorySemaphore.new()
	var sem_observation := cSharedMemorySemaphore.new()
	if not (mem.exists() and sem_action.init("sem_action") and sem_observation.init("sem_observation")):
		quit(2)
		return
	sem_observation.post()  # ready
	var steps := 0
	var obs := PackedFloat32Array([0.0, 0.0, 0.0, 0.0])
	while sem_action.wait():
		var action := mem.getFloatArray("action")
		obs[0] = float(steps)
		obs[1] = action[0] if action.size() > 0 else -1.0
		var tensor := mem.findFloatTensor("observation")
		if tensor != null:
			tensor.write(obs)
		mem.sendIntArray("done", PackedInt32Array([1 if steps % 10 == 9 else 0]))
		steps += 1
		sem_observation.post()
	print("SEED GAME ENDS after %d steps" % steps)
