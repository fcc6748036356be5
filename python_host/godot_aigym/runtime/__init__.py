"""Finding, or provisioning, the Godot engine the rest of the package drives."""

from .errors import GodotNotFoundError
from .resolve import GodotRuntime, cache_root, probe_version, resolve_godot, runtime_dir

__all__ = ["GodotNotFoundError", "GodotRuntime", "cache_root", "probe_version", "resolve_godot", "runtime_dir"]
