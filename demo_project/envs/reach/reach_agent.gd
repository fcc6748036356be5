## Reach, seen from above: the agent's camera hangs over a blue floor and moves one step in one
## of four directions (or stays); a red tile lies somewhere on the floor. Reaching it (centre of
## the picture within REACH of the tile's centre) ends the episode with +1; every step pays its
## progress towards the tile. The policy sees only the camera's pixels (`reach.tscn`);
## `reach_state.tscn` also reports positions, for tests.
extends Node3D

const ARENA := 3.0      # the body and the tile start in [-ARENA, ARENA]^2 (agent-local)
const STEP := 0.3       # distance moved per step
const REACH := 0.6      # the tile counts as reached within this distance
const HEIGHT := 8.0     # of the camera over the floor
const MOVES := [Vector3.ZERO, Vector3(1, 0, 0), Vector3(-1, 0, 0), Vector3(0, 0, 1), Vector3(0, 0, -1)]
const FLOOR_COLOR := Color8(0, 0, 255)
const TILE_COLOR := Color8(255, 0, 0)
const SKY_COLOR := Color8(0, 0, 0)

## Pixels per side of the camera image (the user argument --image-size N overrides it).
@export var image_size := 42

var body: Node3D
var tile: MeshInstance3D
var _reward := 0.0
var _reached := false


func _ready() -> void:
	add_child(_flat_box(Vector3(2 * ARENA + 8, 0.02, 2 * ARENA + 8), FLOOR_COLOR, -0.01))
	tile = _flat_box(Vector3(1.2, 0.04, 1.2), TILE_COLOR, 0.02)
	add_child(tile)
	body = Node3D.new()
	body.name = "Body"
	add_child(body)
	var camera := CameraSensor3D.new()
	camera.name = "Camera"
	image_size = GymArgs.int_value(GymArgs.parse(), "image-size", image_size)
	camera.width = image_size
	camera.height = image_size
	camera.fov = 75.0
	camera.far = HEIGHT + 2.0
	camera.position = Vector3(0, HEIGHT, 0)
	camera.rotation = Vector3(-PI / 2, 0, 0)  # looking straight down; image up is -Z
	var sky := Environment.new()
	sky.background_mode = Environment.BG_COLOR
	sky.background_color = SKY_COLOR
	camera.environment = sky
	body.add_child(camera)


func _flat_box(size: Vector3, color: Color, y: float) -> MeshInstance3D:
	var mesh := BoxMesh.new()
	mesh.size = size
	var mat := StandardMaterial3D.new()
	mat.shading_mode = BaseMaterial3D.SHADING_MODE_UNSHADED  # exact colours, no lighting cost
	mat.albedo_color = color
	mesh.material = mat
	var node := MeshInstance3D.new()
	node.mesh = mesh
	node.position.y = y
	return node


func reset_agent(rng: RandomNumberGenerator) -> void:
	body.position = Vector3(rng.randf_range(-ARENA, ARENA), 0, rng.randf_range(-ARENA, ARENA))
	while true:
		tile.position = Vector3(rng.randf_range(-ARENA, ARENA), 0.02, rng.randf_range(-ARENA, ARENA))
		if _distance() > 1.5:
			break
	_reward = 0.0
	_reached = false


func apply_action(action: int) -> void:
	var before := _distance()
	var p: Vector3 = body.position + MOVES[clampi(action, 0, MOVES.size() - 1)] * STEP
	body.position = Vector3(clampf(p.x, -ARENA - 1, ARENA + 1), 0, clampf(p.z, -ARENA - 1, ARENA + 1))
	var after := _distance()
	_reached = after < REACH
	_reward = 0.5 * (before - after) + (1.0 if _reached else 0.0)


func _distance() -> float:
	return Vector2(body.position.x - tile.position.x, body.position.z - tile.position.z).length()


## Positions (agent-local): body x, z and tile x, z. Only reach_state.tscn observes them.
func get_observation() -> PackedFloat32Array:
	return PackedFloat32Array([body.position.x, body.position.z, tile.position.x, tile.position.z])


func get_reward() -> float:
	return _reward


func is_terminated() -> bool:
	return _reached
