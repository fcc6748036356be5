"""`shm.relay.relay`: one step of several engines in one C call -- every command posted, then every
answer taken in order by spinning only. What it returns tells the caller where its usual post and
wait take over: -1 all taken, k the first answer not taken (those before it taken, those after
untouched), M + j a failed post j (those before it made, nothing taken). No timing: every case is
decided by the counts set before the call."""

from __future__ import annotations

import pytest

from godot_aigym.shm import ChunkClosed, CorruptedSemaphore, SharedMemory
from godot_aigym.shm.relay import relay


def semaphores(mem, prefix, values, spin_us=None):
    kw = {} if spin_us is None else {"spin_us": spin_us}
    return [mem.newSemaphore(f"{prefix}{k}", v, **kw) for k, v in enumerate(values)]


def scribble(mem, sem):
    mem._mm[sem._entry.offset:sem._entry.offset + 16] = b"\xff" * 16


@pytest.mark.parametrize("yield_at_once", [False, True])
def test_posts_every_command_then_takes_every_answer(mem, yield_at_once):
    commands, answers = semaphores(mem, "cmd", [0, 0, 0]), semaphores(mem, "ans", [1, 1, 1])
    step = relay(commands, answers, yield_at_once)
    assert step.yield_at_once is yield_at_once
    assert step() == -1
    assert [s.value for s in commands] == [1, 1, 1] and [s.value for s in answers] == [0, 0, 0]


@pytest.mark.parametrize("spin_us", [0.0, 20.0])
def test_the_first_missing_answer_is_returned_and_the_later_ones_left_alone(mem, spin_us):
    commands, answers = semaphores(mem, "cmd", [0, 0, 0]), semaphores(mem, "ans", [1, 0, 1], spin_us)
    assert relay(commands, answers, True)() == 1  # the spin ends (20 us, or none): never blocks
    assert [s.value for s in commands] == [1, 1, 1]  # every command was posted first
    assert [s.value for s in answers] == [0, 0, 1]  # answer 0 taken, answer 2 not looked at


def test_waits_only_when_given_no_commands(mem):
    answers = semaphores(mem, "ans", [1, 2])
    assert relay([], answers)() == -1
    assert [s.value for s in answers] == [0, 1]


def test_a_failed_post_is_returned_after_the_answers(mem):
    commands, answers = semaphores(mem, "cmd", [0, 0]), semaphores(mem, "ans", [1, 1])
    step = relay(commands, answers)
    scribble(mem, commands[1])
    assert step() == len(answers) + 1  # post 1 failed: post 0 made, no answer taken
    assert commands[0].value == 1 and [s.value for s in answers] == [1, 1]
    with pytest.raises(CorruptedSemaphore, match="semaphore 'cmd1'"):
        commands[1].poster()()  # the caller's own post names it


def test_a_corrupted_answer_is_left_to_the_callers_wait(mem):
    commands, answers = semaphores(mem, "cmd", [0, 0]), semaphores(mem, "ans", [0, 1])
    step = relay(commands, answers)
    scribble(mem, answers[0])
    assert step() == 0
    with pytest.raises(CorruptedSemaphore, match="semaphore 'ans0'"):
        answers[0].waiter(5.0)()


def test_bad_arguments_are_refused(mem, handles):
    commands, answers = semaphores(mem, "cmd", [0]), semaphores(mem, "ans", [0])
    with pytest.raises(ValueError, match="waits on 1 to 128 semaphores, got 0"):
        relay(commands, [])
    other = SharedMemory(handles(), size=1 << 20, capacity=16)
    late = other.newSemaphore("late", 0)
    other.close()
    with pytest.raises(ChunkClosed):
        relay(commands, [*answers, late])


def test_the_function_keeps_the_mapping_while_it_lives(handles):
    mem = SharedMemory(handles(), size=1 << 20, capacity=16)
    commands, answers = semaphores(mem, "cmd", [0]), semaphores(mem, "ans", [1])
    step = relay(commands, answers)
    mem.close()  # unlinked; the mapping stays while the function holds it
    assert step() == -1  # no fault: its posts and waits touch memory still mapped
    del step
