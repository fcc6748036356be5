"""`python -m godot_aigym ...` is the `godot-aigym` command."""

import sys

from .cli import main

sys.exit(main())
