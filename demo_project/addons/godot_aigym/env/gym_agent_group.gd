## GymAgentGroup: one group of agents of a multi-agent scene (a child of a GymGroupEnv): its name,
## the name of the policy that acts for it, and its own observation and action spaces
## (docs/MULTI_AGENT.md). Every copy of the scene (Python's n_agents, GymGroupEnv.n_agents) holds
## `agents_per_copy` agents of this group.
##
## The agents are instances of `agent_scene` (children of this node) or this node's children that
## implement the agent callbacks (GymEnv's, see gym_env.gd); a batched GymGroupEnv subclass needs
## neither.
class_name GymAgentGroup
extends Node

const GymAgents := preload("gym_agents.gd")

## The group's name (the agent ids are "<group>_<i>"); empty: the node's name.
@export var group_name := ""
## The policy that acts for this group (the RLlib policy id, the policy mapping's value); empty:
## the group's name.
@export var policy := ""
## Agents of this group in every copy of the scene.
@export var agents_per_copy := 1
@export_group("Spaces")
## Floats per agent from get_observation() (a float32 Box).
@export var observation_size := 1
## Per-dimension bounds; empty means unbounded.
@export var observation_low := PackedFloat32Array()
@export var observation_high := PackedFloat32Array()
@export var action_type: GymEnv.ActionType = GymEnv.ActionType.BOX
## BOX: action dimensions. DISCRETE: number of actions. MULTI_DISCRETE: unused.
@export var action_size := 1
## MULTI_DISCRETE: the number of choices of each action dimension.
@export var action_nvec := PackedInt32Array()
## BOX bounds per dimension; empty means [-1, 1].
@export var action_low := PackedFloat32Array()
@export var action_high := PackedFloat32Array()
@export_group("Agents")
## Instanced once per agent of this group as children of this node.
@export var agent_scene: PackedScene
## Offset between consecutive instanced agents (Node2D/Node3D agents).
@export var agent_spacing := Vector2.ZERO
@export_group("Play (no Python)")
## The TorchScript policy (.jit) this group plays with (or --policy <group>=PATH).
@export var policy_path := ""

## Set by GymGroupEnv: the group's first agent in the env's agent order, its agent count (all
## copies), and floats per action.
var offset := 0
var n_agents := 0
var action_width := 1
## The group's agent nodes (empty for a batched GymGroupEnv).
var agents: Array[Node] = []


## The group's name as the protocol carries it.
func id() -> String:
	return group_name if group_name != "" else str(name)


func policy_id() -> String:
	return policy if policy != "" else id()


## Checks the group's configuration; "" or what is wrong (naming the group).
func check() -> String:
	var g := "agent group '%s'" % id()
	if not id().is_valid_identifier():
		return "%s: the group name must be a valid identifier (letters, digits, _)" % g
	if agents_per_copy < 1:
		return "%s is empty: agents_per_copy must be >= 1, got %d" % [g, agents_per_copy]
	if observation_size < 1:
		return "%s: observation_size must be >= 1, got %d" % [g, observation_size]
	if observation_low.size() not in [0, observation_size] or observation_high.size() not in [0, observation_size]:
		return "%s: observation_low/high must be empty or have observation_size (%d) values" % [g, observation_size]
	var bad_type := GymSpec.enum_error("action_type", action_type, GymEnv.ActionType)
	if bad_type != "":
		return "%s: %s" % [g, bad_type]
	if action_type == GymEnv.ActionType.MULTI_DISCRETE:
		if action_nvec.is_empty() or Array(action_nvec).min() < 1:
			return "%s: action_nvec must list the choices (>= 1) of each action dimension, got %s" % [g, action_nvec]
	elif action_size < 1:
		return "%s: action_size must be >= 1, got %d" % [g, action_size]
	if action_type == GymEnv.ActionType.BOX and (action_low.size() not in [0, action_size] or action_high.size() not in [0, action_size]):
		return "%s: action_low/high must be empty or have action_size (%d) values" % [g, action_size]
	var bounds := GymSpec.spaces_bounds_error(self)
	if bounds != "":
		return "%s: %s" % [g, bounds]
	action_width = {GymEnv.ActionType.BOX: action_size, GymEnv.ActionType.DISCRETE: 1,
			GymEnv.ActionType.MULTI_DISCRETE: action_nvec.size()}[action_type]
	return ""


## Instances or finds the group's agents (n of them); "" or what is wrong.
func find_agents(n: int, required: bool) -> String:
	agents.append_array(GymAgents.collect(self, agent_scene, n, id().capitalize().replace(" ", ""), agent_spacing))
	if agents.is_empty() and not required:
		return ""
	if agents.size() != n:
		return "agent group '%s' has %d agent children but needs %d (agents_per_copy x copies; use agent_scene)" % [
				id(), agents.size(), n]
	for agent in agents:
		for m in GymAgents.CALLBACKS:
			if not agent.has_method(m):
				return "agent %s of group '%s' lacks the callback %s" % [agent.name, id(), m]
	return ""


## Values a policy outputs per observation: one per BOX dimension, one logit per choice otherwise.
func policy_outputs() -> int:
	if action_type == GymEnv.ActionType.MULTI_DISCRETE:
		var total := 0
		for k in action_nvec:
			total += k
		return total
	return action_size


## The group's entry in the spec (docs/STEP_PROTOCOL.md, "Agent groups").
func spec_entry() -> Dictionary:
	var lo: Array = []
	var hi: Array = []
	for j in observation_size:
		lo.append(_bound(observation_low, j, -INF))
		hi.append(_bound(observation_high, j, INF))
	var action := {}
	if action_type == GymEnv.ActionType.DISCRETE:
		action = {"type": "discrete", "n": action_size}
	elif action_type == GymEnv.ActionType.MULTI_DISCRETE:
		action = {"type": "multi_discrete", "nvec": Array(action_nvec)}
	else:
		var alo: Array = []
		var ahi: Array = []
		for j in action_size:
			alo.append(_bound(action_low, j, -1.0))
			ahi.append(_bound(action_high, j, 1.0))
		action = {"type": "box", "shape": [action_size], "low": alo, "high": ahi}
	return {"name": id(), "policy": policy_id(), "offset": offset, "n_agents": n_agents,
		"agents_per_copy": agents_per_copy, "action_width": action_width, "action": action,
		"observation": {"type": "box", "shape": [observation_size], "low": lo, "high": hi, "dtype": "float32"}}


## Bound j of `a` (or `default` when a is empty), as JSON (null when unbounded).
func bound_value(a: PackedFloat32Array, j: int, default: float) -> float:
	return a[j] if a.size() > j else default


func _bound(a: PackedFloat32Array, j: int, default: float):
	var v := bound_value(a, j, default)
	return null if is_inf(v) or is_nan(v) else v
