"""
GodotAIGym-style driver for the InvPendulum environment, written against GodotAIGym's
Python API (github.com/lupoglaz/GodotAIGym, Tutorials/InvPendulumTut/InvPendulum.py, MIT)
in the original's style: it imports `_GodotEnv` and launches the game itself.

The tests run this file UNCHANGED with godot_aigym.compat.SHIM_DIR on PYTHONPATH; the only
differences from the original are the ones docs/PORTING.md lists for any port (gymnasium
instead of the retired gym, the handle as a parameter, results printed as JSON lines, and an
exit action in close() as in the original CartPole driver).
"""

import atexit
import json
import os
import subprocess
import sys

import numpy as np
import torch
import _GodotEnv

import gymnasium as gym
from gymnasium import spaces


class InvPendulumEnv(gym.Env):
	"""
	Observation: Box(3): cos(theta), sin(theta), angular velocity
	Actions: Box(1): torque
	Episode termination: after 20 steps (the game's max_num_steps)
	"""

	def __init__(self, exec_path, env_path, num_actions=1, num_observations=3, render=True, handle="environment"):
		self.handle = handle
		self.mem = _GodotEnv.SharedMemoryTensor(self.handle)
		self.sem_act = _GodotEnv.SharedMemorySemaphore("sem_action", 0)
		self.sem_obs = _GodotEnv.SharedMemorySemaphore("sem_observation", 0)

		self.agent_action_tensor = self.mem.newFloatTensor("agent_action", num_actions)
		self.env_action_tensor = self.mem.newIntTensor("env_action", 2)
		self.observation_tensor = self.mem.newFloatTensor("observation", num_observations)
		self.reward_tensor = self.mem.newFloatTensor("reward", 1)
		self.done_tensor = self.mem.newIntTensor("done", 1)

		with open("stdout.txt", "wb") as out, open("stderr.txt", "wb") as err:
			if render:
				self.process = subprocess.Popen([exec_path, "--path", os.path.abspath(env_path), "--handle", self.handle], stdout=out, stderr=err)
			else:
				self.process = subprocess.Popen([exec_path, "--path", os.path.abspath(env_path), "--disable-render-loop", "--handle", self.handle], stdout=out, stderr=err)

		# Array to manipulate the state of the simulator
		self.env_action = torch.zeros(2, dtype=torch.int, device='cpu')
		self.env_action[0] = 0  # 1 = reset
		self.env_action[1] = 0  # 1 = exit

		self.max_torque = 8.0
		self.max_speed = 8

		self.action_space = spaces.Box(low=-self.max_torque, high=self.max_torque, shape=(num_actions,), dtype=np.float32)
		self.observation_space = spaces.Box(low=-1.0, high=1.0, shape=(num_observations,), dtype=np.float32)

		atexit.register(self.close)

	def step(self, action):
		action = torch.clamp(action, min=-self.max_torque, max=self.max_torque)
		self.agent_action_tensor.write(action.to(dtype=torch.float32))
		self.env_action_tensor.write(self.env_action)
		self.sem_act.post()

		self.sem_obs.wait()
		observation = self.observation_tensor.read()
		reward = self.reward_tensor.read()
		done = self.done_tensor.read()

		clamp_speed = torch.clamp(observation[2], min=-self.max_speed, max=self.max_speed)
		observation[2] = clamp_speed

		return observation, reward.item(), done.item(), None

	def reset(self, seed=42):
		env_action = torch.tensor([1, 0], device='cpu', dtype=torch.int)
		self.env_action_tensor.write(env_action)
		self.sem_act.post()

		self.sem_obs.wait()
		observation = self.observation_tensor.read()
		return observation

	def close(self):
		if self.process.poll() is None:
			env_action = torch.tensor([0, 1], device='cpu', dtype=torch.int)
			self.env_action_tensor.write(env_action)
			self.sem_act.post()
			self.process.wait(timeout=60)
		print("Terminated")


if __name__ == '__main__':
	GODOT_BIN_PATH, env_abs_path, handle, torques = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
	env = InvPendulumEnv(exec_path=GODOT_BIN_PATH, env_path=env_abs_path, render=False, handle=handle)
	obs = env.reset()
	print(json.dumps({"reset": obs.numpy().tolist()}))
	for torque in torques:
		obs, rew, done, _ = env.step(torch.tensor([torque]))
		print(json.dumps({"obs": obs.numpy().tolist(), "reward": rew, "done": done}))
	# the original API's timed_wait takes milliseconds: nothing is posted, so this returns
	# after 0.2 s (not 200 s) and the driver goes on
	print(json.dumps({"timed_wait_200ms": env.sem_obs.timed_wait(200)}))
	env.close()
	print(json.dumps({"exit_code": env.process.returncode}))
