"""What an EnvRunner needs on the node Ray placed it on: an engine, the built extension, the
project imported. Resolved (provisioned where possible) on that node, once per process and
project; a failure names the node."""

from __future__ import annotations

import fcntl
import os
import socket
import threading
from pathlib import Path

from .. import locations
from ..runtime import GodotRuntime, cache_root, resolve_godot

CORE_LIBRARY = "libaigym_core.linux.debug.x86_64.so"

_ready: dict[Path, GodotRuntime] = {}
_lock = threading.Lock()


class GodotNodeError(RuntimeError):
    """A Ray node cannot run Godot environments (no engine, extension or project there)."""


def node_label() -> str:
    """``host <hostname>, Ray node <id>`` (the id only inside a Ray worker or driver)."""
    label = f"host {socket.gethostname()}"
    try:
        import ray

        if ray.is_initialized():
            label += f", Ray node {ray.get_runtime_context().get_node_id()}"
    except Exception:  # a label must never fail
        pass
    return label


def prepare_node(project: str | os.PathLike | None, godot=None) -> tuple[Path, GodotRuntime]:
    """The project to run (the demo project when None) and the engine, both ready on this node.

    The demo project of an installed package is copied, its libraries built and imported here
    (`godot_aigym.demo.project.ready_demo_project`); any other project must carry the built
    extension (``godot-aigym add``), and is imported if it changed. Serialised between the
    EnvRunners of one node by a lock file in the per-user cache.
    """
    where = node_label()
    try:
        runtime = godot if isinstance(godot, GodotRuntime) else resolve_godot(godot)
    except Exception as e:
        raise GodotNodeError(f"no usable Godot engine on {where}: {e}") from e
    explicit = None if project is None else Path(project).resolve()
    key = explicit or Path("<demo>")
    with _lock:
        if key in _ready:
            return (explicit or locations.demo_project()), _ready[key]
        try:
            folder = cache_root()
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            with open(folder / "rllib-node.lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # two runners of one node: one import at a time
                path = _ready_project(explicit, runtime)
        except GodotNodeError:
            raise
        except Exception as e:
            raise GodotNodeError(f"the Godot project cannot be prepared on {where}: {e}") from e
        _ready[key] = runtime
        return path, runtime


def _ready_project(explicit: Path | None, runtime: GodotRuntime) -> Path:
    from ..engine import ensure_imported

    if explicit is None:
        from ..demo.project import ready_demo_project

        return ready_demo_project(None, runtime, say=lambda _msg: None)
    if not (explicit / "project.godot").is_file():
        raise GodotNodeError(f"{explicit} is not a Godot project (no project.godot) on {node_label()}")
    library = explicit / "addons" / locations.ADDON_NAME / "bin" / CORE_LIBRARY
    if not library.is_file():
        raise GodotNodeError(f"the godot-aigym extension is not built in {explicit} on {node_label()} "
                             f"(missing {library.name}): run `godot-aigym add {explicit}` on that node")
    ensure_imported(explicit, runtime)
    return explicit
