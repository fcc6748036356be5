## GymGroupEnv: a multi-agent GymEnv whose agents come in groups (GymAgentGroup children), each
## with its own policy name and spaces (docs/MULTI_AGENT.md). `n_agents` (Python's n_agents) is
## the number of copies of the scene; each copy holds every group's `agents_per_copy` agents.
##
## On the wire (docs/STEP_PROTOCOL.md, "Agent groups") it is one GymEnv of all the agents, group
## after group, whose observation rows are the widest group's (D = max observation_size, each
## group's values first, the rest 0) and whose action rows are the widest group's (W floats, each
## group's first): one command steps every group in the same physics tick, and the flat hot path
## (GymTransport, GymEpisodes) is used unchanged. The spec describes each group in "groups".
##
## Callbacks: agent nodes under each group (GymAgentGroup.agent_scene or its children, the
## GymEnv agent callbacks), or batched: extend GymGroupEnv, override _gym_reset(i), _gym_act(acts)
## and _gym_observe() as for GymEnv, with agent i's action at acts[i * action_width + j] and its
## observation at out[i * obs_dim + j]; `groups[g].offset` is a group's first agent.
class_name GymGroupEnv
extends GymEnv

## The groups, in child order (agent order on the wire).
var groups: Array[GymAgentGroup] = []
## Copies of the scene (the --n-agents Python passed).
var copies := 1
var _group_of := PackedInt32Array()  # agent index -> group index
var _checked_group_obs := false


func _ready() -> void:
	if policy_path == "":  # play mode when some group has a policy
		var pairs := PackedStringArray()
		for child in get_children():
			if child is GymAgentGroup and child.policy_path != "":
				pairs.append("%s=%s" % [child.id(), child.policy_path])
		policy_path = ",".join(pairs)
	super._ready()


func _configure() -> String:
	copies = n_agents
	if copies < 1 or copies > GymProtocol.MAX_AGENTS:
		return "n_agents (copies of the scene) must be 1..%d, got %d" % [GymProtocol.MAX_AGENTS, copies]
	if agent_scene != null:
		return "a GymGroupEnv has no agent_scene of its own: set it on its GymAgentGroup children"
	if not observation_parts.is_empty():
		return "a GymGroupEnv's groups observe flat float boxes: observation_parts (Dict observations) are not supported on it"
	var err := _find_groups()
	if err != "":
		return err
	var per_copy := 0
	for g in groups:
		per_copy += g.agents_per_copy
	if per_copy * copies > GymProtocol.MAX_AGENTS:  # was "n_agents must be 1..100000, got 180000"
		return ("%d copies x %d agents per copy = %d agents, more than an engine's %d: fewer copies per engine "
				+ "(n_copies), more engines (n_engines)") % [copies, per_copy, per_copy * copies, GymProtocol.MAX_AGENTS]
	var total := 0
	var d := 1
	var w := 1
	for g in groups:
		g.offset = total
		g.n_agents = g.agents_per_copy * copies
		total += g.n_agents
		d = maxi(d, g.observation_size)
		w = maxi(w, g.action_width)
		for k in g.n_agents:
			_group_of.append(groups.find(g))
	# the wire's padded rows; the groups carry the real spaces (spec)
	n_agents = total
	observation_size = d
	observation_parts = {}
	observation_low = PackedFloat32Array()
	observation_high = PackedFloat32Array()
	action_type = ActionType.BOX
	action_size = w
	action_low = PackedFloat32Array()
	action_high = PackedFloat32Array()
	err = super._configure()
	if err != "":
		return err
	var required: bool = get_script() == preload("gym_group_env.gd")
	for g in groups:
		err = g.find_agents(g.n_agents, required)
		if err != "":
			return err
		agents.append_array(g.agents)
	if not agents.is_empty() and agents.size() != n_agents:
		return "some agent groups have agent nodes and others not: give every group its agents, or override the batched callbacks"
	return ""


func _find_groups() -> String:
	var seen := {}
	for child in get_children():
		if not child is GymAgentGroup:
			continue
		var g: GymAgentGroup = child
		var err := g.check()
		if err != "":
			return err
		if seen.has(g.id()):
			return "two agent groups are named '%s': group names must be unique" % g.id()
		seen[g.id()] = true
		groups.append(g)
	if groups.is_empty():
		return "GymGroupEnv '%s' has no GymAgentGroup children (add one per group of agents)" % name
	return ""


## The group named `group_id` (null when there is none).
func group(group_id: String) -> GymAgentGroup:
	for g in groups:
		if g.id() == group_id:
			return g
	return null


## The group of agent i.
func group_of(i: int) -> GymAgentGroup:
	return groups[_group_of[i]]


func spec() -> Dictionary:
	var s := super.spec()
	# the padded rows as unbounded boxes, typed so that a host without groups refuses them
	s["observation"]["type"] = P.GROUPS_TYPE
	s["action"]["type"] = P.GROUPS_TYPE
	s["copies"] = copies
	var entries := []
	for g in groups:
		entries.append(g.spec_entry())
	s["groups"] = entries
	return s


# -- agent-node callbacks (a batched subclass overrides these) ------------------------------------
func _gym_act(acts: PackedFloat32Array) -> void:
	var w := action_width
	for i in n_agents:
		var g: GymAgentGroup = groups[_group_of[i]]
		var base := i * w
		if g.action_type == ActionType.DISCRETE:
			agents[i].apply_action(int(acts[base]))
		elif g.action_type == ActionType.MULTI_DISCRETE:
			var a := PackedInt32Array()
			a.resize(g.action_width)
			for j in g.action_width:
				a[j] = int(acts[base + j])
			agents[i].apply_action(a)
		else:
			agents[i].apply_action(acts.slice(base, base + g.action_width))


func _gym_observe() -> void:
	var d := obs_dim
	for i in n_agents:
		var agent: Node = agents[i]
		var g: GymAgentGroup = groups[_group_of[i]]
		var o = agent.get_observation()
		if not _checked_group_obs:
			var err := GymAgents.answer_error(agent, o, g.observation_size, "group '%s' observes" % g.id())
			if err != "":
				fail(err)
				return
		var base := i * d
		for j in g.observation_size:
			out[base + j] = o[j]
		out[reward_offset + i] = agent.get_reward()
		out[terminated_offset + i] = 1.0 if agent.is_terminated() else 0.0
		out[truncated_offset + i] = 1.0 if agent.has_method("is_truncated") and agent.is_truncated() else 0.0
	_checked_group_obs = true


## Play and random modes: GymGroupPlayer runs one policy per group (GymEnv asks for it).
func _new_group_player() -> GymPlayer:
	return GymGroupPlayer.new()
