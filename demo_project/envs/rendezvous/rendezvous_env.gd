## Rendezvous: two agent groups with different bodies and spaces must both reach a shared goal
## (a cooperative two-policy demo; docs/MULTI_AGENT.md). No physics: the scene computes its own
## dynamics (IMMEDIATE), so tests can assert exact values and it runs headless.
##
## Per copy k of the scene (scout k is agent k, runner k is agent copies + k):
##   reset scout:  goal = (u, u), scout = (u, u) with u ~ U(-1, 1) from the seeded rng, in that order
##   reset runner: runner = (u, u)
##   scout action (Discrete 5): 0 stay, 1 +x, 2 -x, 3 +y, 4 -y; moves STEP (0.1), clamped to [-1, 1]
##   runner action (Box 2 in [-1, 1]): moves STEP * a, clamped to [-1, 1]
##   scout obs  (4): [sx, sy, gx - sx, gy - sy]
##   runner obs (6): [rx, ry, gx - rx, gy - ry, sx - rx, sy - ry]
##   reward of each: (its distance to the goal before the tick - after it) - 0.01,
##                   + 1 when both are within RADIUS (0.1) of the goal; that ends the episode of both
extends GymGroupEnv

const STEP := 0.1
const RADIUS := 0.1
const TIME_COST := 0.01
const BONUS := 1.0

var _goal := PackedFloat32Array()  # 2 per copy
var _pos := PackedFloat32Array()  # 2 per agent
var _prev_d := PackedFloat32Array()  # per agent: distance to the goal before the last tick


func _gym_setup() -> void:
	if groups.size() != 2 or groups[0].agents_per_copy != 1 or groups[1].agents_per_copy != 1:
		fail("the rendezvous scene needs its two groups (scout, runner) with one agent per copy each")
		return
	_goal.resize(2 * copies)
	_pos.resize(2 * n_agents)
	_prev_d.resize(n_agents)


func _gym_reset(i: int) -> void:
	var k := i if i < copies else i - copies
	if i < copies:
		_goal[2 * k] = rng.randf_range(-1.0, 1.0)
		_goal[2 * k + 1] = rng.randf_range(-1.0, 1.0)
	_pos[2 * i] = rng.randf_range(-1.0, 1.0)
	_pos[2 * i + 1] = rng.randf_range(-1.0, 1.0)
	_prev_d[i] = _dist(i, k)


func _gym_act(acts: PackedFloat32Array) -> void:
	var w := action_width
	for i in n_agents:
		var k := i if i < copies else i - copies
		var dx := 0.0
		var dy := 0.0
		if i < copies:
			var a := int(acts[i * w])
			dx = [0.0, STEP, -STEP, 0.0, 0.0][a]
			dy = [0.0, 0.0, 0.0, STEP, -STEP][a]
		else:
			dx = STEP * clampf(acts[i * w], -1.0, 1.0)
			dy = STEP * clampf(acts[i * w + 1], -1.0, 1.0)
		_prev_d[i] = _dist(i, k)
		_pos[2 * i] = clampf(_pos[2 * i] + dx, -1.0, 1.0)
		_pos[2 * i + 1] = clampf(_pos[2 * i + 1] + dy, -1.0, 1.0)


func _gym_observe() -> void:
	var d := obs_dim
	for k in copies:
		var s := k
		var r := copies + k
		var gx := _goal[2 * k]
		var gy := _goal[2 * k + 1]
		var sx := _pos[2 * s]
		var sy := _pos[2 * s + 1]
		var rx := _pos[2 * r]
		var ry := _pos[2 * r + 1]
		out[s * d] = sx
		out[s * d + 1] = sy
		out[s * d + 2] = gx - sx
		out[s * d + 3] = gy - sy
		out[r * d] = rx
		out[r * d + 1] = ry
		out[r * d + 2] = gx - rx
		out[r * d + 3] = gy - ry
		out[r * d + 4] = sx - rx
		out[r * d + 5] = sy - ry
		var ds := _dist(s, k)
		var dr := _dist(r, k)
		var met := ds < RADIUS and dr < RADIUS
		var bonus := BONUS if met else 0.0
		out[reward_offset + s] = _prev_d[s] - ds - TIME_COST + bonus
		out[reward_offset + r] = _prev_d[r] - dr - TIME_COST + bonus
		out[terminated_offset + s] = 1.0 if met else 0.0
		out[terminated_offset + r] = 1.0 if met else 0.0
		out[truncated_offset + s] = 0.0
		out[truncated_offset + r] = 0.0


func _dist(i: int, k: int) -> float:
	return Vector2(_pos[2 * i] - _goal[2 * k], _pos[2 * i + 1] - _goal[2 * k + 1]).length()
