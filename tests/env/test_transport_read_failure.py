"""GymTransport (the addon's env/gym_transport.gd): when reading the command header or a STEP's
actions from 'in' fails, wait_command returns no command and says why, instead of running the
previous command again on the array it keeps (read_into fills one array in place)."""

from __future__ import annotations

import numpy as np
import pytest

from godot_aigym import SharedMemory

PREFIX = "gym_"
CMD_STEP = 1
IN_HEADER = 4


@pytest.mark.parametrize("part, message", [("header", "the command header"), ("actions", "the actions")])
def test_a_failed_read_of_in_is_no_command_and_an_error(run_gdscript, part, message):
    with SharedMemory() as mem:
        mem.newSemaphore(PREFIX + "sem_action", 1)  # one command waiting
        header = np.zeros(IN_HEADER, np.float32)
        header[0] = CMD_STEP
        mem.newFloatTensor(PREFIX + "in", IN_HEADER).write(header)  # a STEP, no room for actions
        run = run_gdscript("res://env/test_transport_read_failure.gd", handle=mem.handle, user_args=[part],
                           expected_errors=(r"read_into",))
    assert run.results["command"] == 0
    assert run.results["error"] == f"could not read {message} from '{PREFIX}in'"
