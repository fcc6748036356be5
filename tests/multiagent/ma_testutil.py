"""Names shared by the multi-agent tests (a module of its own: `conftest` is ambiguous when several
test folders run together)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "env"))
from env_testutil import DEMO, engine_children, our_chunks, wait_gone  # noqa: E402,F401

RENDEZVOUS = "res://envs/rendezvous/rendezvous.tscn"
