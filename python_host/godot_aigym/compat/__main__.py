"""``python -m godot_aigym.compat [--godot | --godot-headless]``: print what a GodotAIGym
script needs: the folder to put on PYTHONPATH (default) or the ``exec_path`` to launch."""

from __future__ import annotations

import argparse

from . import SHIM_DIR, godot_executable


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m godot_aigym.compat", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--godot", action="store_true", help="print the Godot engine to use as exec_path")
    group.add_argument("--godot-headless", action="store_true",
                       help="print a launcher that runs the engine with --headless (for machines without a display)")
    args = parser.parse_args(argv)
    if args.godot or args.godot_headless:
        print(godot_executable(headless=args.godot_headless))
    else:
        print(SHIM_DIR)


if __name__ == "__main__":
    main()
