## GymSetup: what a GymEnv does once, in _ready(), before any command: its command-line options
## over the exported settings (mode, seed, agents, physics rate), the buffers sized from the
## spaces, and the agent nodes found. Apart from gym_env.gd so the node reads as its callbacks
## and its step loop; nothing here runs per step.
class_name GymSetup
extends RefCounted

const P := preload("gym_protocol.gd")
const GymSpecBuilder := preload("gym_spec.gd")
const GymAgents := preload("gym_agents.gd")


## The options Python (or a player) passed (GymArgs) over the node's settings: agents, episode
## limits, physics rate, policy, the seed and the mode (REMOTE with --handle, else PLAY or RANDOM).
## Returns what is wrong with them ("" if nothing): the mode is set either way, so a remote
## engine can still tell Python.
static func apply_args(env: GymEnv, args: Dictionary) -> String:
	var err := ""
	for key in ["n-agents", "action-repeat", "max-episode-steps", "seed", "spin-us"]:
		err = err if err != "" else GymArgs.int_error(args, key)
	err = err if err != "" else GymArgs.int_error(args, "play-episodes", 1)
	err = err if err != "" else GymArgs.int_error(args, "physics-fps", 1)
	env.n_agents = GymArgs.int_value(args, "n-agents", env.n_agents)
	env.action_repeat = GymArgs.int_value(args, "action-repeat", env.action_repeat)
	env.max_episode_steps = GymArgs.int_value(args, "max-episode-steps", env.max_episode_steps)
	env.play_episodes = GymArgs.int_value(args, "play-episodes", env.play_episodes)
	if args.has("physics-fps") and GymArgs.int_error(args, "physics-fps", 1) == "":
		Engine.physics_ticks_per_second = GymArgs.int_value(args, "physics-fps", Engine.physics_ticks_per_second)
	if args.has("policy"):
		env.policy_path = str(args["policy"])
	var rng := env.rng
	if args.has("seed"):
		rng.seed = GymArgs.int_value(args, "seed", 0)
		seed(rng.seed)
	elif args.has("handle") or env.policy_path == "":
		rng.randomize()
	else:
		rng.seed = env.play_seed
		seed(env.play_seed)
	if args.has("handle"):
		env.mode = GymEnv.Mode.REMOTE
	elif args.has("play") or (env.policy_path != "" and not args.has("random")):
		env.mode = GymEnv.Mode.PLAY
	else:
		env.mode = GymEnv.Mode.RANDOM
	env.initial_seed = rng.seed
	Engine.physics_jitter_fix = 0.0  # exactly one physics tick per fixed frame: deterministic steps
	if err == "" and env.mode == GymEnv.Mode.PLAY and env.play_episodes < 1:
		err = "play_episodes must be at least 1, got %d" % env.play_episodes
	return err


## Checks the settings, sizes `out` and `actions` and the episodes, and finds the agents: the
## error, or "".
static func configure(env: GymEnv) -> String:
	var err := GymSpecBuilder.settings_error(env)
	if err != "":
		return err
	env.obs_dim = env.observation_size
	env.action_width = {GymEnv.ActionType.BOX: env.action_size, GymEnv.ActionType.DISCRETE: 1,
			GymEnv.ActionType.MULTI_DISCRETE: env.action_nvec.size()}[env.action_type]
	var n := env.n_agents
	var offsets := P.out_offsets(n, env.obs_dim)
	env.reward_offset = offsets["reward"]
	env.terminated_offset = offsets["terminated"]
	env.truncated_offset = offsets["truncated"]
	env.final_obs_offset = offsets["final_obs"]
	env.out.resize(P.out_size(n, env.obs_dim))
	env.out.fill(0.0)
	env.actions.resize(n * env.action_width)
	env.actions.fill(0.0)
	env.episodes.setup(env, n)
	return _find_agents(env)


## The agents: instanced from agent_scene, or the children that implement the callbacks (none
## for a batched subclass, which overrides the callbacks instead).
static func _find_agents(env: GymEnv) -> String:
	var n := env.n_agents
	env.agents.append_array(GymAgents.collect(env, env.agent_scene, n, "Agent", env.agent_spacing))
	var agent_nodes: bool = env.get_script() == GymEnv or not env.agents.is_empty()
	if not agent_nodes:
		return ""
	if env.agents.size() != n:
		if env.agents.is_empty():
			return "GymEnv '%s' has no agents: set agent_scene, add agent children, or extend GymEnv and override _gym_reset/_gym_act/_gym_observe" % env.name
		return "GymEnv '%s' has %d agent children but n_agents is %d (use agent_scene to instance any number)" % [env.name, env.agents.size(), n]
	for agent in env.agents:
		var missing := GymAgents.missing_callbacks(agent)
		if not missing.is_empty():
			return "agent %s lacks the callbacks: %s" % [agent.name, ", ".join(missing)]
	return ""
