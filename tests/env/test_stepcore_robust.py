"""_stepcore's Stager and Gatherer never crash on misuse: an object never initialised, one whose
__init__ failed part way or was called again, and sizes that would overflow all give a clear
Python error. Each case runs in a child process, so a segfault fails the test cleanly: a fork of
a server that has imported numpy and _stepcore (forked_python.py), as `python -c` would run it."""

import os
import textwrap

import pytest
from forked_python import PythonForkServer

PRELUDE = """
import sys
import numpy as np
from godot_aigym.env._stepcore import Gatherer, Stager
inv = np.zeros(16, np.float32)
out = np.zeros(16, np.float32)
H = (0, 1)  # the header's command and flags (protocol.H_COMMAND, H_FLAGS)
def raises(kind, f, *a):
    try:
        f(*a)
    except kind:
        return True
    return False
"""

CASES = {
    "a Stager never initialised": """
        assert raises(RuntimeError, Stager.__new__(Stager).stage, np.zeros(2, np.float32), 0)
    """,
    "a Stager whose __init__ failed after exporting its views": """
        s = Stager.__new__(Stager)
        assert raises(ValueError, s.__init__, inv, H, 4, (1,), 1.0, None, None, [3, 3])  # upper: wrong length
        assert raises(RuntimeError, s.stage, np.zeros(1, np.float32), 0)
        assert raises(RuntimeError, s.stage, np.zeros(1, np.int64), 0)
        assert raises(RuntimeError, s.__init__, inv, H, 4, (1,), 1.0, [0.0], [1.0])  # stays unusable
    """,
    "a Stager initialised twice keeps its first shape": """
        s = Stager(inv, H, 4, (2,), 1.0, [-1, -1], [1, 1])
        assert raises(RuntimeError, s.__init__, inv, H, 4, (10**7,), 1.0, [0.0], [1.0])
        assert s.stage(np.zeros(2, np.float32), 0) is True
        assert s.stage(np.zeros(10**7, np.float32), 0) is False
    """,
    "a Stager whose actions offset would overflow": """
        assert raises(ValueError, Stager, inv, H, sys.maxsize, (2,), 1.0, [-1, -1], [1, 1])
        assert raises(ValueError, Stager, inv, H, 4, (2**62, 2**62), 1.0, [0.0], [1.0])
    """,
    "a Gatherer never initialised, half built, or with overflowing sizes": """
        b = (np.zeros(2, np.float32), np.zeros(2), np.zeros(2, bool), np.zeros(2, bool))
        assert raises(RuntimeError, Gatherer.__new__(Gatherer).gather, *b)
        assert raises(RuntimeError, Gatherer.__new__(Gatherer).fresh, True)
        g = Gatherer.__new__(Gatherer)
        assert raises(ValueError, g.__init__, out, 100, 1, (100, 200, 300))  # out smaller than its layout
        assert raises(RuntimeError, g.gather, *b)
        assert raises(RuntimeError, g.fresh, False)
        assert raises(ValueError, Gatherer, out, 2**62, 2**62, (0, 1, 2))
        assert raises(ValueError, Gatherer, out, 2, 1, (0, 4, 6))  # rewards over the observations
        assert raises(ValueError, Gatherer, out, 2, 1, (2, 4, sys.maxsize))
        assert raises(ValueError, Stager, inv, (0, 0), 4, (2,), 1.0, [-1, -1], [1, 1])  # one place for two
        assert raises(ValueError, Stager, inv, (0, 5), 4, (2,), 1.0, [-1, -1], [1, 1])  # flags in the actions
    """,
}


@pytest.fixture(scope="module")
def children():
    server = PythonForkServer(dict(os.environ), ("numpy", "godot_aigym.env._stepcore"))
    yield server
    server.close()


@pytest.mark.parametrize("case", CASES)
def test_misuse_gives_a_clear_error_and_no_crash(case, children):
    child = children.spawn(PRELUDE + textwrap.dedent(CASES[case]) + "print('ok')\n")
    out, err = child.communicate(timeout=120)
    assert (child.returncode, out.strip()) == (0, "ok"), err
