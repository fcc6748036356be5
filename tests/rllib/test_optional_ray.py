"""Ray is an optional extra: the core package never imports it, and godot_aigym.rllib without it
says which extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

from godot_aigym.env import GodotEnvError


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_the_core_package_does_not_import_ray():
    r = _run("import sys, godot_aigym, godot_aigym.env; print('ray' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_the_package_imports_no_ray_yet_registers_the_demo_scenes_once_rllib_can_look_them_up():
    """The package's names are imported on first use (a worker collecting these tests, or the
    session sweep of tests/reliability, pays no Ray/RLlib import: seconds of CPU). Yet after a plain
    ``import godot_aigym.rllib``, importing Ray Tune's registry (RLlib's PPOConfig import does)
    registers the demo scenes: RLlib's `Algorithm._get_env_id_and_creator` then finds our creator
    (before, it fell back to gymnasium's id: one engine per sub-environment)."""
    r = _run("import sys, godot_aigym.rllib, godot_aigym.rllib.local_ray, godot_aigym.rllib.train, "
             "godot_aigym.rllib.node; print(sorted(m for m in ('ray', 'torch') if m in sys.modules))\n"
             "from ray.tune.registry import ENV_CREATOR, _global_registry\n"
             "for name in ('godot_aigym/CartPole-v0', 'godot_aigym/Rendezvous-v0'):\n"
             "    print(name, _global_registry.contains(ENV_CREATOR, name) and "
             "_global_registry.get(ENV_CREATOR, name).func.__qualname__)\n"
             "import ray.tune.registry as m; print(type(m.__loader__).__name__)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["[]", "godot_aigym/CartPole-v0 _create", "godot_aigym/Rendezvous-v0 _create_group",
                                     "SourceFileLoader"], r.stdout


def test_the_first_name_used_registers_the_demo_scenes():
    import godot_aigym.rllib as godot_rllib

    assert "godot_aigym/CartPole-v0" in godot_rllib.RLLIB_ENVS
    assert "godot_aigym/Rendezvous-v0" in godot_rllib.RLLIB_GROUP_ENVS
    assert godot_rllib.GodotEnvRunner.__module__ == "godot_aigym.rllib.env_runner"
    assert {"GodotEnvRunner", "register_scene"} <= set(dir(godot_rllib))
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchName'"):
        godot_rllib.NoSuchName  # noqa: B018


def test_without_ray_the_error_names_the_extra():
    blocker = ("import sys\n"
               "class NoRay:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name == 'ray' or name.startswith('ray.'):\n"
               "            raise ImportError(f'No module named {name!r} (blocked by the test)')\n"
               "sys.meta_path.insert(0, NoRay())\n"
               "import godot_aigym.rllib\n")
    r = _run(blocker)
    assert r.returncode != 0
    assert "ImportError: godot_aigym.rllib needs Ray RLlib, which is an optional extra: " \
           "pip install 'godot-aigym[ray]'" in r.stderr, r.stderr


class _Spec:
    def __init__(self, obs, act):
        self.observation_space, self.action_space = obs, act


class _Link:
    def __init__(self, spec):
        self.spec = spec


class _TwoEngines:  # just what check_same_spaces reads: the engines' declared specs
    def __init__(self, *specs):
        self.links = [_Link(s) for s in specs]

    def __repr__(self):
        return "<GodotVectorEnv 1 agents x 2 engines>"


def test_engines_declaring_different_spaces_are_refused():
    from gymnasium import spaces

    from godot_aigym.rllib.registration import check_same_spaces

    box4 = spaces.Box(-1, 1, (4,))
    check_same_spaces(_TwoEngines(_Spec(box4, spaces.Discrete(2)), _Spec(box4, spaces.Discrete(2))))
    with pytest.raises(GodotEnvError, match=r"engine 1 of .* declares action_space Discrete\(3\), "
                                            r"engine 0 declares Discrete\(2\)"):
        check_same_spaces(_TwoEngines(_Spec(box4, spaces.Discrete(2)), _Spec(box4, spaces.Discrete(3))))


def test_the_registration_hook_survives_a_reload_and_a_failed_registration():
    """`importlib.reload(godot_aigym.rllib)` left two hooks, and the old one found itself among
    the finders it asks: importing Tune's registry (any RLlib import) raised RecursionError. And
    a registration that fails warns: it never makes Ray's own import fail (the first name used
    registers, or raises, again). The hook leaves sys.meta_path's list as it is (another thread's
    import walking it skipped the finder after the hook when the hook removed itself in place)."""
    r = _run("import importlib, sys, warnings\n"
             "import godot_aigym.rllib as m\n"
             "importlib.reload(m)\n"
             "hooks = lambda: sum(type(f).__name__ == '_RegisterAfterTuneRegistry' for f in sys.meta_path)\n"
             "print('hooks', hooks())\n"
             "sys.modules['godot_aigym.rllib.registration'] = None  # its import fails\n"
             "finders = iter(sys.meta_path); next(finders); after_hook = sys.meta_path[1]  # another thread's import\n"
             "with warnings.catch_warnings(record=True) as caught:\n"
             "    warnings.simplefilter('always')\n"
             "    from ray.tune.registry import ENV_CREATOR, _global_registry\n"
             "print([str(w.message).split(':')[0] for w in caught if 'godot_aigym' in str(w.message)])\n"
             "print('hooks', hooks(), 'the other import asks every finder', next(finders) is after_hook)\n"
             "del sys.modules['godot_aigym.rllib.registration']\n"
             "print('godot_aigym/CartPole-v0' in m.RLLIB_ENVS, _global_registry.contains(ENV_CREATOR, "
             "'godot_aigym/CartPole-v0'))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["hooks 1", "['godot_aigym.rllib could not register the demo scenes with Ray Tune']",
                                     "hooks 0 the other import asks every finder True", "True True"], r.stdout
