"""Not imported as a package: this folder goes on PYTHONPATH so that ``import _GodotEnv``
finds the stand-in module next to this file (see godot_aigym.compat.SHIM_DIR)."""
