"""Stand-in for GodotAIGym's ``_GodotEnv`` extension module: ``import _GodotEnv`` works
unchanged when this folder is on PYTHONPATH (see godot_aigym.compat and docs/PORTING.md).
Everything `godot_aigym.compat` offers is here too (``_GodotEnv.godot_executable()``, the errors),
so a driver that imports only ``_GodotEnv`` needs no second import."""

from godot_aigym import compat as _compat
from godot_aigym.compat import *  # noqa: F401,F403

__all__ = list(_compat.__all__)
