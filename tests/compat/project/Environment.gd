extends Node2D
# GodotAIGym's InvPendulum Environment.gd (github.com/lupoglaz/GodotAIGym, MIT), re-created
# for Godot 4 + godot-aigym. Every change from the Godot 3 original is marked "PORT:" and
# explained in docs/PORTING.md.

var agent_action = [0.0]
var env_action = [0, 0]

var sem_action
var sem_observation
var mem

var deltat = 0.05
var max_num_steps = 20
var num_steps = 0


func _ready():
	mem = cSharedMemory.new()
	if mem.exists():
		sem_action = cSharedMemorySemaphore.new()
		sem_observation = cSharedMemorySemaphore.new()
		sem_action.init("sem_action")
		sem_observation.init("sem_observation")
		print("Running as OpenAIGym environment")
	$Anchor/Pendulum.reset_state()
	set_physics_process(true)


func is_done():
	if num_steps >= max_num_steps:
		num_steps = 0
		return 1
	else:
		return 0


func _physics_process(_delta):
	if mem.exists():
		# PORT: wait() returns false when the Python host quit or died; the game then quits.
		if not sem_action.wait():
			return
		agent_action = mem.getFloatArray("agent_action")
		env_action = mem.getIntArray("env_action")
	else:
		agent_action[0] = 0.0
		if Input.is_action_pressed("ui_right"):
			agent_action[0] = 1.0
		if Input.is_action_pressed("ui_left"):
			agent_action[0] = -1.0

	$ActionLabel.text = "Action: " + str(agent_action)

	if env_action[1] == 1:
		get_tree().quit()
		return

	if env_action[0] == 1:
		$Anchor/Pendulum.reset_state()
		num_steps = 0
	else:
		$Anchor/Pendulum.torque = agent_action[0]
		$Anchor/Pendulum.advance(deltat)
		num_steps += 1

	var observation = $Anchor/Pendulum.get_observation()
	var reward = [$Anchor/Pendulum.get_reward()]
	$ObservationLabel.text = "Observation: " + str(observation)
	if mem.exists():
		mem.sendFloatArray("observation", observation)
		mem.sendFloatArray("reward", reward)
		mem.sendIntArray("done", [is_done()])
		sem_observation.post()
