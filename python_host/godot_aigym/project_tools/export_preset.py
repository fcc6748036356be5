"""The Linux export preset that `godot-aigym export` needs, and putting the user's file back.

Godot's `--export-pack` takes a preset name from the project's export_presets.cfg. A project
without a Linux preset that packs every resource (all_resources, no exclude_filter) gets a
temporary one for the export. The user's file is first copied
aside, under a name that carries the exporting process's owner tag (owners.py, as `add`'s
staging folders do): `.godot_aigym-presets-<pid>-<start>.cfg` (the file as it was, mode and
mtime kept) or `...none` (there was none). Both files are replaced only by renames, so at every
instant export_presets.cfg is the user's file or the user's file plus our preset. The export
puts it back when it ends; one killed meanwhile (SIGKILL, power loss) is put back by the next
export of the project (`recover_killed_export`), byte for byte. A symlinked export_presets.cfg
without a Linux preset is refused (ProjectError): the renames would replace the link with a file.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..owners import owner_tag, parse_owner_tag, sweep
from .errors import ProjectError

PRESET_NAME = "godot-aigym Linux"
PRESETS = "export_presets.cfg"
BACKUP_PREFIX = ".godot_aigym-presets-"  # then the owner tag, then ".cfg", ".none" or ".tmp<random>"
KEPT, ABSENT = "cfg", "none"


def temporary_preset(text: str) -> str:
    """Our preset section, appended to the user's file text `text`."""
    index = len(re.findall(r"^\[preset\.\d+\]", text, re.M))
    return (f'\n[preset.{index}]\n\nname="{PRESET_NAME}"\nplatform="Linux"\nrunnable=false\n'
            f'export_filter="all_resources"\ninclude_filter=""\nexclude_filter=""\nexport_path=""\n\n'
            f'[preset.{index}.options]\n\nbinary_format/embed_pck=false\n')


def _users_linux_preset(text: str) -> str | None:
    """The user's Linux preset, if it packs every resource: one that exports selected scenes or
    resources, or excludes files, could leave out the addon or the scene (`exclude_filter="addons/*"`
    was packed, and run.sh failed: "res://addons/godot_aigym/env/gym_env.gd ... File not found")."""
    for m in re.finditer(r'^\[preset\.(\d+)\]\s*$(.*?)(?=^\[preset\.\d+\]|\Z)', text, re.M | re.S):
        body = m.group(2)
        if not re.search(r'^platform="Linux(/X11)?"', body, re.M):
            continue
        export_filter = re.search(r'^export_filter="([^"]*)"', body, re.M)
        exclude = re.search(r'^exclude_filter="([^"]*)"', body, re.M)
        packs_all = export_filter is None or export_filter.group(1) == "all_resources"
        if packs_all and not (exclude and exclude.group(1).strip()):
            return re.search(r'^name="([^"]*)"', body, re.M).group(1)
    return None


def _write_beside(target: Path, owner: str, fill: Callable[[Path], None]) -> None:
    """Make `target` by renaming a finished temporary file (named with our owner tag) onto it."""
    fd, tmp = tempfile.mkstemp(prefix=f"{BACKUP_PREFIX}{owner}.tmp", dir=target.parent)
    os.close(fd)
    try:
        fill(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def linux_preset(project: Path) -> Iterator[str]:
    """The name of a Linux export preset; a temporary one when the project has none (removed after)."""
    cfg = project / PRESETS
    original = cfg.read_bytes() if cfg.exists() else None
    text = original.decode(errors="replace") if original is not None else ""
    name = _users_linux_preset(text)
    if name is not None:
        yield name
        return
    if cfg.is_symlink():  # our renames would put a plain file in the link's place (dangling links too)
        raise ProjectError(
            f"{cfg} is a symbolic link and has no Linux export preset that packs every resource: godot-aigym "
            "export would have to replace the link with a file to add its temporary one. Add a Linux preset to the "
            "linked file (Project > Export in the editor), or replace the link with a copy of its target")
    owner = owner_tag()
    backup = project / f"{BACKUP_PREFIX}{owner}.{KEPT if original is not None else ABSENT}"
    if original is not None:
        _write_beside(backup, owner, lambda tmp: shutil.copy2(cfg, tmp))
    else:
        _write_beside(backup, owner, lambda tmp: None)
    try:
        def ours(tmp: Path) -> None:
            tmp.write_bytes((text + temporary_preset(text)).encode())
            if original is not None:
                shutil.copymode(cfg, tmp)

        _write_beside(cfg, owner, ours)
        yield PRESET_NAME
    finally:
        _put_back(cfg, backup)


def _put_back(cfg: Path, backup: Path) -> None:
    if backup.suffix == f".{KEPT}":
        os.replace(backup, cfg)  # the user's file, with its mode and mtime
    else:
        cfg.unlink(missing_ok=True)
        backup.unlink()


def recover_killed_export(project: Path) -> list[str]:
    """Put back the export_presets.cfg of exports of `project` that were killed with our preset
    in it (their process is gone); returns what was done. Left as it is (and said) when the file
    changed since in another way than by our preset: someone edited it, and their edit wins."""
    done: list[str] = []
    cfg = project / PRESETS

    def inspect(entry: Path):
        if not entry.name.startswith(BACKUP_PREFIX) or entry.is_symlink() or not entry.is_file():
            return None
        if entry.stat().st_uid != os.getuid():
            return None
        tag, _, kind = entry.name[len(BACKUP_PREFIX):].partition(".")
        owner = parse_owner_tag(tag)
        return (owner, kind) if owner is not None else None

    def remove(entry: Path, kind: str) -> bool:
        if kind not in (KEPT, ABSENT):  # a copy killed before its rename: the real file is untouched
            entry.unlink()
            return True
        original = entry.read_bytes() if kind == KEPT else b""
        text = original.decode(errors="replace")
        current = cfg.read_bytes() if cfg.exists() else None
        if current == (text + temporary_preset(text)).encode():
            _put_back(cfg, entry)
            done.append(f"{PRESETS} restored (an interrupted export had added its '{PRESET_NAME}' preset)")
        elif current is None or current == original:  # killed before or after its own preset was there
            entry.unlink()
        else:
            entry.unlink()
            done.append(f"{PRESETS} changed since an interrupted export added its '{PRESET_NAME}' preset: "
                        "left as it is; remove that preset by hand if you do not want it")
        return True

    if project.is_dir():
        sweep(sorted(project.iterdir()), inspect, remove)
    return done
