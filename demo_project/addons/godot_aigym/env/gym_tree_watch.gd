## What stops a scene that Python steps when the game takes it out of stepping: its tree paused
## (`get_tree().paused = true`: a pause menu, a game-over screen) or its GymEnv node gone from the
## tree (`change_scene_to_file`, `queue_free`). Each left the host waiting for the step until its
## step_timeout ("hung?"); now the engine stops with a message naming the cause. The node is
## processed only while the tree is paused: it costs nothing while the game runs.
extends Node

var _env: Node


func _init(env: Node) -> void:
	_env = env
	name = "GymPauseWatch"
	process_mode = Node.PROCESS_MODE_WHEN_PAUSED


func _process(_delta: float) -> void:
	if _env.can_process():
		return  # the GymEnv (or an ancestor) is PROCESS_MODE_ALWAYS / WHEN_PAUSED: it steps on while paused
	_env.fail("the scene tree was paused (get_tree().paused = true) while Python steps it: a paused tree "
			+ "runs no physics tick, so no step can finish; do not pause the game in the env's scene")


## GymEnv._exit_tree in remote mode, outside CLOSE and fail(): one frame later the node has left a
## tree that goes on (a scene change); a quitting tree draws no frame, so nothing is said then.
static func left_the_tree(tree: SceneTree, transport: RefCounted) -> void:
	var message := ("the GymEnv node left the scene tree (change_scene_to_file, queue_free, remove_child...) while "
			+ "Python steps it: keep it in the tree; restart episodes in reset_agent / _gym_reset instead")
	push_error("GymEnv: " + message)
	transport.fail(message)
	tree.quit(1)
