"""The spin policy (placement.spin_budgets): which spin budget each side gets, given the engines
of one environment, the other hosts' engines and the CPUs we may use, and that the engines
receive it (--spin-us). No timing here: the budgets are checked as values, the engines'
arguments as they were sent. The machine-wide registry of other hosts' engines is replaced by
an empty one (other test workers run engines meanwhile), except where a test gives its own;
the registry itself is tested in test_placement_registry.py."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from env_testutil import DEMO, TRIVIAL
from fake_engine import FakeEngine

from godot_aigym.env import GodotEnv, GodotVectorEnv
from godot_aigym.engine import InvalidCpusError
from godot_aigym.env import placement
from godot_aigym.env.placement import PINNED_SPIN_US, RENDER_HOST_SPIN_US, engine_cpus, host_yields_at_once, spin_budgets


@pytest.fixture(autouse=True)
def no_other_hosts(monkeypatch):
    """No other host's engines, whatever runs on the machine meanwhile (tests may set others)."""
    others: list = []
    monkeypatch.setattr(placement, "foreign_engines", lambda: others)
    return others


@pytest.mark.parametrize("n_engines, pinned, usable, expected", [
    (1, True, 2, (PINNED_SPIN_US, PINNED_SPIN_US)),  # host + 1 engine on 2 CPUs: both spin
    (1, False, 2, (None, None)),                     # unpinned, enough CPUs: the module defaults
    (2, True, 2, (PINNED_SPIN_US, PINNED_SPIN_US)),  # 3 spinners on 2 CPUs: still both (measured)
    (2, False, 2, (None, None)),
    (1, True, 1, (0, 0)),                            # one CPU: nobody spins
    (1, False, 1, (0, 0)),
    (4, True, 1, (0, 0)),
    (2, True, 3, (PINNED_SPIN_US, PINNED_SPIN_US)),  # 3 spinners, 3 CPUs
    (3, True, 3, (PINNED_SPIN_US, PINNED_SPIN_US)),
    (7, True, 8, (PINNED_SPIN_US, PINNED_SPIN_US)),
    (8, False, 8, (None, None)),
])
def test_spin_budgets_by_engines_and_usable_cpus(n_engines, pinned, usable, expected):
    assert spin_budgets(n_engines, pinned, usable=usable) == expected


@pytest.mark.parametrize("n_engines, usable, foreign, expected", [
    # two hosts x 1 engine on 2 CPUs: 4 waiters, 2 CPUs: our engine blocks, the host spins
    (1, 2, [[{0}]], (PINNED_SPIN_US, 0)),
    (1, 2, [[None]], (PINNED_SPIN_US, 0)),              # an unpinned engine of another host counts too
    (2, 2, [[{1}]], (PINNED_SPIN_US, 0)),
    (1, 4, [[{2}]], (PINNED_SPIN_US, PINNED_SPIN_US)),  # 4 waiters, 4 CPUs: a CPU each, as alone
    (1, 4, [[{2}], [{1}]], (PINNED_SPIN_US, 0)),          # 6 waiters, 4 CPUs
    (1, 1, [[{0}]], (0, 0)),                            # one CPU: nobody spins, others or not
    (1, 2, [], (PINNED_SPIN_US, PINNED_SPIN_US)),       # no other host: as before
])
def test_spin_budgets_count_the_other_hosts_engines(n_engines, usable, foreign, expected):
    assert spin_budgets(n_engines, True, usable=usable, foreign=foreign) == expected
    assert spin_budgets(n_engines, False, usable=usable, foreign=foreign) == \
        ((0, 0) if usable < 2 else (None, None))  # unpinned: the defaults, whoever runs
    assert spin_budgets(n_engines, True, 3.0, 4, usable=usable, foreign=foreign) == (3.0, 4)  # the user's


@pytest.mark.parametrize("n_engines, usable, expected", [
    (2, 2, True),    # the host shares a CPU with an engine: it yields before its first look
    (3, 2, True),
    (4, 4, True),
    (1, 2, False),   # a CPU each: the answer comes from another CPU, pure spin first
    (2, 3, False),
    (2, 8, False),
    (1, 1, False),   # one CPU: nobody spins at all (spin_budgets)
])
def test_the_host_yields_at_once_when_it_shares_a_cpu_with_an_engine(n_engines, usable, expected):
    assert host_yields_at_once(n_engines, usable) is expected


def test_auto_puts_an_engine_where_the_other_hosts_have_the_fewest(no_other_hosts):
    two = sorted(os.sched_getaffinity(0))[:2]
    if len(two) < 2:
        assert engine_cpus("auto") is None
        return
    low, high = two
    assert on_cpus(set(two), lambda: engine_cpus("auto")) == {high}  # alone: the highest CPU
    no_other_hosts.append([{high}])
    assert on_cpus(set(two), lambda: engine_cpus("auto")) == {low}
    no_other_hosts.append([{low}, None, {low, high}])  # only engines pinned to one CPU load a CPU
    assert on_cpus(set(two), lambda: engine_cpus("auto")) == {high}  # one each: a tie again
    assert on_cpus(set(two), lambda: engine_cpus("auto", 1)) == {low}  # engine 1 of a vector env: one further
    no_other_hosts.append([{high}])
    assert on_cpus(set(two), lambda: engine_cpus("auto", 1)) == {low}  # the load first, the index only on ties


def test_spin_budgets_keep_what_the_user_asked_for():
    assert spin_budgets(2, True, 30.0, 40, usable=2) == (30.0, 40)
    assert spin_budgets(2, True, None, 40, usable=2) == (PINNED_SPIN_US, 40)
    assert spin_budgets(2, True, 30.0, None, usable=2) == (30.0, PINNED_SPIN_US)
    assert spin_budgets(1, True, 5.0, None, usable=2) == (5.0, PINNED_SPIN_US)


@pytest.mark.parametrize("usable", [1, 2, 4])
@pytest.mark.parametrize("pinned", [False, True])
def test_the_host_spins_a_whole_frame_for_a_rendering_engine_only_on_a_free_cpu(pinned, usable):
    """A rendered frame takes milliseconds: with a CPU free for the host (engines < CPUs, no other
    host's waiters filling them) the host spins a whole frame (an idle vCPU is slow to wake), else
    it blocks at once (0); the engine's budget is the same as without rendering, and what the
    user passed is kept."""
    for n_engines in (1, 2, 3):
        plain = spin_budgets(n_engines, pinned, usable=usable, foreign=[])
        host = float(RENDER_HOST_SPIN_US) if usable >= 2 and n_engines < usable else 0.0
        assert spin_budgets(n_engines, pinned, usable=usable, foreign=[], rendering=True) == (host, plain[1])
        assert spin_budgets(n_engines, pinned, 30.0, 40, usable=usable, foreign=[], rendering=True) == (30.0, 40)
    # another host's engine and its host fill the CPUs: ours blocks again
    assert spin_budgets(1, pinned, usable=4, foreign=[[{0}, {1}]], rendering=True)[0] == 0.0
    assert spin_budgets(1, pinned, usable=4, foreign=[[None]], rendering=True)[0] == float(RENDER_HOST_SPIN_US)


def on_cpus(cpus: set[int], fn):
    """Run fn in a thread whose affinity is ``cpus`` (the process's own mask is left alone)."""
    out: dict = {}

    def run():
        try:
            os.sched_setaffinity(0, cpus)
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def in_thread_on_one_cpu(fn):
    """Run fn in a thread whose affinity is one CPU (the process's own mask is left alone)."""
    return on_cpus({min(os.sched_getaffinity(0))}, fn)


def test_spin_budgets_count_the_cpus_we_may_use_not_the_machines():
    # a thread confined to one CPU: one engine and its host already overflow it
    assert in_thread_on_one_cpu(lambda: spin_budgets(1, True)) == (0, 0)
    assert in_thread_on_one_cpu(lambda: spin_budgets(1, True, foreign=[[{0}]])) == (0, 0)
    usable = len(os.sched_getaffinity(0))
    assert spin_budgets(1, True) == spin_budgets(1, True, usable=usable)
    assert spin_budgets(2, True) == spin_budgets(2, True, usable=usable)


class RecordingLauncher(FakeEngine):
    """The fake engine, remembering the arguments each engine was started with."""

    def __init__(self) -> None:
        super().__init__()
        self.launched: list[list[str]] = []

    def __call__(self, launch, **kwargs):
        self.launched.append(list(launch.user_args))
        return super().__call__(launch, **kwargs)


def spin_arg(args: list[str]) -> int | None:
    return int(args[args.index("--spin-us") + 1]) if "--spin-us" in args else None


def test_every_engine_of_a_vector_env_gets_the_budget_of_the_policy(no_leaks):
    launcher = RecordingLauncher()
    env = GodotVectorEnv(DEMO, TRIVIAL, n_agents=2, n_engines=2, launcher=launcher, cpus=None)
    try:
        host, engine = spin_budgets(2, False)  # 3 spinners vs this machine's usable CPUs
        assert [spin_arg(a) for a in launcher.launched] == [engine, engine]
        assert [(link.spin_us, link.engine_spin_us) for link in env.links] == [(host, engine)] * 2
        assert [link._sem_obs.spin_us for link in env.links] == [host, host]  # the host's own waits
        env.reset(seed=0)
    finally:
        env.close()


def test_nothing_spins_on_one_usable_cpu(no_leaks):
    launcher = RecordingLauncher()
    env = in_thread_on_one_cpu(lambda: GodotVectorEnv(DEMO, TRIVIAL, n_agents=2, n_engines=2,
                                                      launcher=launcher, cpus=None))
    try:
        assert [spin_arg(a) for a in launcher.launched] == [0, 0]
        assert [link._sem_obs.spin_us for link in env.links] == [0.0, 0.0]
    finally:
        env.close()


def test_a_pinned_lone_engine_spins_and_the_users_budget_wins(no_leaks):
    cpu = max(os.sched_getaffinity(0))
    launcher = RecordingLauncher()
    env = GodotEnv(DEMO, TRIVIAL, launcher=launcher, cpus=[cpu])
    env.close()
    assert spin_arg(launcher.launched[0]) == spin_budgets(1, True)[1]
    launcher = RecordingLauncher()
    env = GodotVectorEnv(DEMO, TRIVIAL, n_agents=2, n_engines=2, launcher=launcher, cpus=None, engine_spin_us=7)
    env.close()
    assert [spin_arg(a) for a in launcher.launched] == [7, 7]


def test_a_vector_env_checks_every_engines_cpus_before_starting_any(no_leaks):
    launcher = RecordingLauncher()
    usable = sorted(os.sched_getaffinity(0))
    with pytest.raises(InvalidCpusError, match=r"CPU 99999 does not exist"):
        GodotVectorEnv(DEMO, TRIVIAL, n_agents=1, n_engines=2, launcher=launcher, cpus=[[usable[0]], [99999]])
    assert launcher.launched == []  # engine 0 was never started


def test_one_waiter_too_many_everyone_spins():
    """2 engines on 2 CPUs: every side spins (and yields), the engine on the host's CPU too --
    a same-CPU hand-off by sched_yield beat blocking there (placement.spin_budgets)."""
    two = set(sorted(os.sched_getaffinity(0))[:2])
    if len(two) < 2:  # one usable CPU: nobody spins
        assert spin_budgets(2, True) == (0, 0)
        return
    assert on_cpus(two, lambda: spin_budgets(2, True)) == (PINNED_SPIN_US, PINNED_SPIN_US)
    assert on_cpus(two, lambda: spin_budgets(1, True)) == (PINNED_SPIN_US, PINNED_SPIN_US)  # a CPU each
    assert on_cpus(two, lambda: spin_budgets(2, True, 30.0, 40)) == (30.0, 40)  # the user's budget wins


def test_the_vector_env_places_one_engine_per_cpu_and_every_side_spins(no_leaks):
    two = set(sorted(os.sched_getaffinity(0))[:2])
    launcher = RecordingLauncher()
    env = on_cpus(two, lambda: GodotVectorEnv(DEMO, TRIVIAL, n_agents=2, n_engines=2, launcher=launcher))
    try:
        if len(two) < 2:
            assert [spin_arg(a) for a in launcher.launched] == [0, 0]
            return
        assert [link.cpus for link in env.links] == [{max(two)}, {min(two)}]  # "auto": the host's CPU last
        assert [spin_arg(a) for a in launcher.launched] == [PINNED_SPIN_US, PINNED_SPIN_US]
        assert [link._sem_obs.spin_us for link in env.links] == [PINNED_SPIN_US, PINNED_SPIN_US]
        env.reset(seed=0)
        # the host shares a CPU with engine 1: its relay (every post, then every answer's spin, in
        # one C call: tests/shm/test_semaphore_relay.py) yields before its first look
        assert env._relay_step.yield_at_once and env._relay_wait.yield_at_once
        # after the relay's spin, an engine's receiver blocks at once; its own receiver spins its budget
        assert [link._answer_waits[1].spin_ns for link in env.links] == [0, 0]
        assert [link._answer_waits[0].spin_ns for link in env.links] == [PINNED_SPIN_US * 1000] * 2
        events = []
        relayed = env._relay_step
        env._relay_step = lambda: (events.append("relay"), relayed())[1]
        env._posts = [lambda k=k, post=post: (events.append(("post", k)), post())
                      for k, post in enumerate(env._posts)]
        env._receives = [lambda k=k, receive=receive: (events.append(("wait", k)), receive())
                         for k, receive in enumerate(env._receives)]
        obs, *_ = env.step(np.full((4, 2), 0.5, np.float32))
        assert obs[:, 0].tolist() == [0.5] * 4  # every engine's answer lands in its own rows
        # the relay posted and took both (each engine's own post and wait only take over what it missed)
        assert events[0] == "relay" and ("post", 0) not in events and ("post", 1) not in events
        # an answer the relay missed (here: said so after posting both): that engine's receiver
        # blocks without a second spin, the later ones wait as usual
        posts = [link.post_command for link in env.links]
        env._relay_step, events[:] = lambda: ([post() for post in posts], 0)[1], []
        env._spun_receives = [lambda k=k, receive=receive: (events.append(("spun", k)), receive())
                              for k, receive in enumerate(env._spun_receives)]
        obs, *_ = env.step(np.full((4, 2), 0.75, np.float32))
        assert obs[:, 0].tolist() == [0.75] * 4
        assert events == [("spun", 0), ("wait", 1)]
        # without the relay: every engine sent its command, then every answer waited for, in engine order
        env._relay_step, events[:] = None, []
        obs, *_ = env.step(np.full((4, 2), 0.25, np.float32))
        assert obs[:, 0].tolist() == [0.25] * 4
        assert events == [("post", 0), ("post", 1), ("wait", 0), ("wait", 1)]
    finally:
        env.close()


def test_unpinned_engines_keep_their_own_posts_and_waits(no_leaks):
    # the relay's yield-at-once rule assumes the host shares a known CPU with an engine: engines
    # started without pinning (cpus=None) post and wait one by one, as before the relay
    env = GodotVectorEnv(DEMO, TRIVIAL, n_agents=2, n_engines=2, cpus=None, launcher=RecordingLauncher())
    try:
        assert [link.cpus for link in env.links] == [None, None]
        assert env._relay_step is None and env._relay_wait is None
        env.reset(seed=0)
        obs, *_ = env.step(np.full((4, 2), 0.5, np.float32))
        assert obs[:, 0].tolist() == [0.5] * 4
    finally:
        env.close()


@pytest.mark.parametrize("spin_us", [None, 0.0])
def test_two_real_engines_under_the_policy_answer_every_step_in_their_own_rows(no_leaks, spin_us):
    """A real 2-engine env placed by "auto" and the spin policy (on 2 CPUs: one engine per CPU,
    every side spins, engine 1 sharing the host's CPU): every step's answer is exact. With the
    host's spin 0 the relay only looks once: the receivers take whatever answer it missed."""
    two = set(sorted(os.sched_getaffinity(0))[:2])
    kw = {} if spin_us is None else {"spin_us": spin_us}
    env = on_cpus(two, lambda: GodotVectorEnv(DEMO, TRIVIAL, n_agents=3, n_engines=2, seed=0, max_episode_steps=0,
                                              **kw))
    try:
        expected = [(PINNED_SPIN_US if spin_us is None else spin_us, PINNED_SPIN_US)] * 2 if len(two) == 2 \
            else [(0.0 if spin_us is None else spin_us, 0)] * 2
        assert [(link.spin_us, link.engine_spin_us) for link in env.links] == expected
        env.reset(seed=0)
        agent = np.arange(6, dtype=np.float32)
        total = np.zeros(6, np.float32)
        for t in range(1, 41):
            acts = np.stack([0.01 * (agent + 1), np.full(6, -0.001 * t, np.float32)], axis=1).astype(np.float32)
            if t % 2:
                obs, rew, term, trunc, _ = env.step(acts)
            else:
                env.step_async(acts)
                obs, rew, term, trunc, _ = env.step_wait()
            total += acts[:, 0] + acts[:, 1]
            np.testing.assert_allclose(obs[:, :2], acts, rtol=0, atol=1e-7)
            np.testing.assert_allclose(obs[:, 2], total, rtol=1e-5, atol=1e-6)
            assert obs[:, 3].tolist() == [t] * 6
            np.testing.assert_allclose(rew, acts[:, 0] - 0.5 * acts[:, 1], rtol=1e-6, atol=1e-7)
            assert not term.any() and not trunc.any()
    finally:
        env.close()
