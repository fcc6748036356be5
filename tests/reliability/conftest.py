"""The reliability suite's semaphore-corruption fuzz uses the shared-memory tests' fixtures."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shm"))

from shm_fixtures import cc, handles, mem  # noqa: E402,F401
