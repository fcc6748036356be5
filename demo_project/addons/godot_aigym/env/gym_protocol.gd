## GymProtocol: the step protocol's constants and sizes on the engine side (docs/STEP_PROTOCOL.md).
##
## The one GDScript place that knows them; its Python twin is godot_aigym/env/protocol.py, and
## tests/env/test_protocol_cross_language.py runs the engine to check that both agree
## (constants() is what that test reads).
class_name GymProtocol
extends RefCounted

const NAME := "godot_aigym.env"
const VERSION := 2
const DEFAULT_PREFIX := "gym_"

## Message tensors (u32 length + UTF-8 JSON) and their capacities in bytes.
const SPEC_CAPACITY := 65536
const FATAL_CAPACITY := 4096
const ERROR_TEXTS_CAPACITY := 16384

## Commands, in in[H_COMMAND].
const CMD_STEP := 1
const CMD_RESET := 2
const CMD_CLOSE := 3
const CMD_RENDER := 4
## Flags, in in[H_FLAGS]: the autoreset mode of a STEP, FLAG_SEED for a RESET.
const AUTORESET_NONE := 0
const AUTORESET_SAME_STEP := 1
const FLAG_SEED := 2
const AUTORESET_NEXT_STEP := 4

## in: [command, flags, masked count, 0 | reset mask (n) | actions (n * width)]
const IN_HEADER := 4
const H_COMMAND := 0
const H_FLAGS := 1
const H_MASKED := 2
## out, per agent besides its observation: reward, terminated, truncated.
const OUT_SCALARS := 3
## Dict observations: each part not carried in out has two tensors, <prefix><kind><name>.
const PART_OBS := "obs_"
const PART_FINAL_OBS := "final_obs_"
## Agents (or scene copies) per engine: GymSpec and GymGroupEnv refuse more, the host before launch.
const MAX_AGENTS := 100000
## Agent groups (GymGroupEnv): the spec's "observation" and "action" type; each group's spaces are in "groups".
const GROUPS_TYPE := "groups"


static func in_size(n_agents: int, action_width: int) -> int:
	return IN_HEADER + n_agents + n_agents * action_width


static func out_size(n_agents: int, obs_dim: int) -> int:
	return n_agents * (2 * obs_dim + OUT_SCALARS)


## Offsets in out for n agents of obs_dim floats: [obs | reward | terminated | truncated | final obs].
static func out_offsets(n_agents: int, obs_dim: int) -> Dictionary:
	var reward := n_agents * obs_dim
	return {"reward": reward, "terminated": reward + n_agents, "truncated": reward + 2 * n_agents,
		"final_obs": reward + OUT_SCALARS * n_agents}


## Entry names in the shared-memory chunk.
static func entry(prefix: String, kind: String) -> String:
	return prefix + kind


## The tensor of a Dict observation part (kind PART_OBS or PART_FINAL_OBS).
static func part_entry(prefix: String, kind: String, part: String) -> String:
	return prefix + kind + part


## Everything above, for the cross-language test.
static func constants() -> Dictionary:
	return {
		"PROTOCOL": NAME, "PROTOCOL_VERSION": VERSION, "DEFAULT_PREFIX": DEFAULT_PREFIX,
		"MESSAGE_CAPACITY": {"spec": SPEC_CAPACITY, "fatal": FATAL_CAPACITY, "error_texts": ERROR_TEXTS_CAPACITY},
		"CMD_STEP": CMD_STEP, "CMD_RESET": CMD_RESET, "CMD_CLOSE": CMD_CLOSE, "CMD_RENDER": CMD_RENDER,
		"AUTORESET_NONE": AUTORESET_NONE, "AUTORESET_SAME_STEP": AUTORESET_SAME_STEP,
		"FLAG_SEED": FLAG_SEED, "AUTORESET_NEXT_STEP": AUTORESET_NEXT_STEP,
		"IN_HEADER": IN_HEADER, "H_COMMAND": H_COMMAND, "H_FLAGS": H_FLAGS, "H_MASKED": H_MASKED,
		"OUT_SCALARS": OUT_SCALARS, "PART_OBS": PART_OBS, "PART_FINAL_OBS": PART_FINAL_OBS,
		"GROUPS_TYPE": GROUPS_TYPE, "MAX_AGENTS": MAX_AGENTS,
	}
