"""cStepChannel, the engine's step loop in two native calls (wait_step, answer): real engine,
real chunk."""

from __future__ import annotations

import re

import numpy as np

from godot_aigym import SharedMemory


def test_step_channel_reads_a_step_answers_it_and_leaves_everything_else_to_the_caller(run_gdscript):
    with SharedMemory() as mem:
        cmd = mem.newSemaphore("cmd", 4)
        ans = mem.newSemaphore("ans", 0)
        for name, header in (("step", [1, 4]), ("reset", [2, 0]), ("half", [1, 0.5])):
            values = [*header, 0, 0] + ([0.5, 0.25] if name == "step" else [9, 9])
            mem.newFloatTensor(name, 6).write(np.array(values, np.float32))
        out = mem.newFloatTensor("out", 3)
        run_gdscript("res://shm/test_step_channel.gd", handle=mem.handle, expected_errors=tuple(map(re.escape, (
            "cStepChannel.wait_step: call setup() first",
            "cStepChannel.answer: call setup() first",
            "cStepChannel.setup: needs two attached semaphores and two attached float tensors",
            "cStepChannel.setup: actions_at 7 is outside the in tensor (6 elements, the header first)",
            "cStepChannel.setup: step_command must be 1..255, got 0",
            "cStepChannel.answer: wrong length 1, the out tensor holds 3 elements",
        ))))
        assert out.read().tolist() == [1.0, 2.0, 3.0]
        assert ans.value == 1 and cmd.value == 0  # one answer posted; every command taken
