"""The godot_rl_agents baseline project of bench/bench_godot_rl.py, assembled at bench time.

The plugin's files (plugin.json: repository, commit of each file, hash) are not in this repository:
they are fetched from GitHub once into the cache (~/.cache/godot-aigym/godot_rl_agents_plugin, or
GODOT_RL_PLUGIN_DIR: a checkout of the plugin), checked against plugin.json's hashes, and copied
with project/ (our scene and scripts) into build/bench-godot-rl/project, which is then imported
with the project's Godot. README.md says why.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MANIFEST = HERE / "plugin.json"
OURS = HERE / "project"
BUILD = REPO / "build" / "bench-godot-rl" / "project"
RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


class FixtureError(RuntimeError):
    """The baseline cannot be assembled: says which file and what to do."""


def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def text_hash(data: bytes) -> str:
    """sha256 of the text with line ends and trailing blanks normalised (CRLF, editor whitespace)."""
    lines = data.decode("utf-8").replace("\r\n", "\n").split("\n")
    return hashlib.sha256("\n".join(line.rstrip(" \t\r") for line in lines).encode()).hexdigest()


def cache_dir() -> Path:
    if os.environ.get("GODOT_RL_PLUGIN_DIR"):
        return Path(os.environ["GODOT_RL_PLUGIN_DIR"])
    if str(REPO / "python_host") not in sys.path:
        sys.path.insert(0, str(REPO / "python_host"))
    from godot_aigym.runtime.resolve import cache_root  # the Godot runtime's cache folder
    return cache_root() / "godot_rl_agents_plugin"


def _fetch(repo: str, entry: dict, dest: Path) -> None:
    url = RAW.format(repo=repo, commit=entry["commit"], path=entry["path"])
    print(f"fetching {url}", flush=True)
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            data = r.read()
    except (urllib.error.URLError, OSError) as e:
        raise FixtureError(f"cannot fetch godot_rl_agents' {entry['path']} from {url}: {e}; without network "
                           f"access to GitHub, set GODOT_RL_PLUGIN_DIR to a checkout of {repo}") from e
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)


def plugin_files() -> dict[str, Path]:
    """path in the plugin -> checked local file (fetched into the cache when missing)."""
    m = manifest()
    root = cache_dir()
    out = {}
    for entry in m["files"]:
        local = root / entry["path"]
        if not local.is_file():
            if os.environ.get("GODOT_RL_PLUGIN_DIR"):
                raise FixtureError(f"{local} missing (GODOT_RL_PLUGIN_DIR={root})")
            _fetch(m["repository"], entry, local)
        got = text_hash(local.read_bytes())
        if got != entry["sha256"]:
            raise FixtureError(f"{local} is not {m['repository']}'s {entry['path']} at {entry['commit']} "
                               f"(text sha256 {got}, expected {entry['sha256']}); remove it to fetch it again")
        out[entry["path"]] = local
    return out


def assemble(dest: Path = BUILD) -> Path:
    """build/bench-godot-rl/project: our project/ files plus the checked plugin files."""
    files = plugin_files()
    dest.mkdir(parents=True, exist_ok=True)
    for src in OURS.iterdir():
        if src.is_file():
            shutil.copy2(src, dest / src.name)
    for rel, src in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dest
