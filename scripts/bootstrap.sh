#!/usr/bin/env bash
# The one set-up of godot-aigym, used by `make build`, `make test`, `make demo`, `make bench`.
#
#   1. checks the system tools (python3 >= 3.10 with venv, g++/gcc, make),
#   2. creates .venv and installs requirements.txt (pinned; torch 2.13.0 CPU) and `pip install -e .`,
#      skipped while .venv/.godot-aigym-deps matches the hash of requirements.txt + pyproject.toml + setup.py,
#   3. `godot-aigym setup`: finds or provisions Godot >= 4.3, builds the extension with scons
#      (incremental), imports the demo and test projects (only when something changed).
#
# Idempotent: a second run takes a few seconds. Environment: VENV (default .venv), PYTHON
# (default python3), GODOT_BIN (use this engine), GODOT_AIGYM_CACHE (where Godot is provisioned),
# AIGYM_SETUP_ARGS (extra `godot-aigym setup` arguments, e.g. --no-torch).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
VENV=${VENV:-$REPO/.venv}
case $VENV in /*) ;; *) VENV=$REPO/$VENV ;; esac
PYTHON=${PYTHON:-python3}
STAMP=$VENV/.godot-aigym-deps
T0=$(date +%s.%N)

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }
if [[ ! -t 1 ]]; then step() { printf '==> %s\n' "$*"; }; fi

# ---- 1. system tools ------------------------------------------------------------------------------
step "System tools"
missing=()
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found. On Debian/Ubuntu: sudo apt-get install python3 python3-venv python3-dev (Python >= 3.10)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$("$PYTHON" -V 2>&1) is too old: godot-aigym needs Python >= 3.10 (Debian 12: sudo apt-get install python3 python3-venv python3-dev)"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
"$PYTHON" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || missing+=(python3-dev)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v make >/dev/null 2>&1 || missing+=(make)
if ((${#missing[@]})); then
  die "missing ${missing[*]}. On Debian/Ubuntu: sudo apt-get install ${missing[*]}"
fi
info "$("$PYTHON" -V 2>&1) ($(command -v "$PYTHON")), $(g++ --version | head -n1)"

# ---- 2. virtual environment -----------------------------------------------------------------------
step "Python environment ($VENV)"
venv_ok() {
  # usable, and made for this folder (a moved checkout has scripts pointing elsewhere)
  "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null \
    && head -n3 "$VENV/bin/pip" 2>/dev/null | grep -qF "$VENV/bin/python"
}
if ! venv_ok; then
  [[ -e $VENV ]] && info "existing $VENV is unusable or was made for another folder: recreating it"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  info "created $VENV"
fi
PY=$VENV/bin/python
want=$(cat requirements.txt pyproject.toml setup.py | sha256sum | cut -d' ' -f1)
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
  rm -f "$STAMP"
  info "installing requirements.txt (pinned; torch 2.13.0 CPU)"
  "$PY" -m pip install --disable-pip-version-check -r requirements.txt
  info "pip install -e ."
  "$PY" -m pip install --disable-pip-version-check -e .
  echo "$want" >"$STAMP"
else
  info "requirements up to date (requirements.txt, pyproject.toml, setup.py unchanged)"
  # The editable install: still pointing here, console script present, C helpers built and fresh.
  stale_ext=""
  for ext_c in python_host/godot_aigym/shared_object/_*.c python_host/godot_aigym/shm/_*.c; do
    ext_so=$(ls "${ext_c%.c}".*.so 2>/dev/null | head -n1 || true)
    if [[ -z $ext_so ]] || [[ $ext_c -nt $ext_so ]]; then stale_ext=$ext_c; fi
  done
  # _futexsem.c compiles the engine's semaphore header: a changed header also makes it stale
  futexsem_so=$(ls python_host/godot_aigym/shm/_futexsem.*.so 2>/dev/null | head -n1 || true)
  for dep in gdextension/shm/aigym_shm_sem.h gdextension/shm/aigym_shm_layout.h; do
    if [[ -n $futexsem_so ]] && [[ $dep -nt $futexsem_so ]]; then stale_ext=$dep; fi
  done
  if [[ ! -x $VENV/bin/godot-aigym ]] || [[ -n $stale_ext ]] \
    || [[ "$("$PY" -c 'import godot_aigym; print(godot_aigym.__file__)' 2>/dev/null)" != "$REPO/python_host/"* ]]; then
    info "pip install -e . (editable install missing or a C helper out of date)"
    "$PY" -m pip install --disable-pip-version-check -e .
  else
    info "godot-aigym installed in editable mode"
  fi
fi

# ---- 3. engine, extension, projects ---------------------------------------------------------------
# The test project's generated preload model (tests/torch/torch_preload.py) before the projects'
# import: written later, by the test suite's first run, it would cost a second import of the project.
if [[ ! -f tests/project/generated/torch_preload.jit && " ${AIGYM_SETUP_ARGS:-} " != *" --no-torch "* ]]; then
  "$PY" tests/torch/torch_preload.py
fi
# shellcheck disable=SC2086
"$PY" -m godot_aigym setup ${AIGYM_SETUP_ARGS:-}

info "set-up finished in $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
