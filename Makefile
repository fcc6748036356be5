# godot-aigym: every target first runs the one set-up (scripts/bootstrap.sh), which is
# idempotent and takes a few seconds once everything is in place.
#
#   make demo    set up, then `godot-aigym demo`
#   make test    set up, then the whole pytest suite (PYTEST_ARGS="-k shm -x" to narrow it)
#   make build   set up only: .venv, Godot runtime, extension libraries, project import
#   make bench   set up, then every bench/bench_*.py (results in bench/results/)
#   make clean   remove build outputs (not .venv, not the Godot cache in ~/.cache/godot-aigym)

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# the suite on one pytest-xdist worker per usable CPU, one work unit per test module (tests/rllib
# and tests/render one unit each), the longest first: tests/suite_parallel.py. PYTEST_WORKERS=0: serial.
PYTEST_WORKERS ?= auto
# scons's cache of built files: the install test's build of the installed package reuses the
# checkout's objects instead of compiling the same sources again (SConstruct; removed by `make clean`).
GODOT_AIGYM_BUILD_CACHE ?= $(CURDIR)/build/scons-cache
export VENV GODOT_AIGYM_BUILD_CACHE

.DEFAULT_GOAL := help
.PHONY: help build setup demo smoke test bench clean doctor

help:
	@echo "godot-aigym: Godot 4 scenes as fast RL environments"
	@echo
	@echo "  make demo     set everything up, then run the demo (godot-aigym demo)"
	@echo "  make test     set everything up, then run the whole test suite (pytest)"
	@echo "  make build    set-up only: .venv (pinned deps, torch 2.13.0 CPU), Godot >= 4.3,"
	@echo "                extension libraries (scons), import of the demo and test projects"
	@echo "  make bench    set up, then run bench/bench_*.py (results in bench/results/)"
	@echo "  make doctor   show which engine, libraries and Python are used, and why"
	@echo "  make clean    remove build outputs (keeps .venv and the Godot cache)"
	@echo
	@echo "Variables: GODOT_BIN=/path/to/godot (your own Godot >= 4.3), GODOT_AIGYM_CACHE=DIR,"
	@echo "           PYTEST_ARGS='-k shm', PYTEST_WORKERS=auto|N|0, AIGYM_SETUP_ARGS='--no-torch', VENV=.venv"
	@echo "           GODOT_AIGYM_BUILD_CACHE=DIR (scons cache of built files; default build/scons-cache)"

build setup:
	@bash scripts/bootstrap.sh

demo: build
	@$(PY) -m godot_aigym demo

smoke: build
	@$(PY) -m godot_aigym smoke

test: build
	@$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

doctor: build
	@$(PY) -m godot_aigym doctor

# bench_shared_object.py compares against real-robot's SharedObject: installed here, for the
# benchmark only (it is not a dependency of godot-aigym).
bench: build
	@$(PY) -c "import real_robot" 2>/dev/null || $(PY) -m pip install --disable-pip-version-check -q real-robot==0.2.1
	@failed=0; for b in bench/bench_*.py; do \
	  echo "==> $$b"; \
	  $(PY) "$$b" || { echo "$$b failed (exit $$?)"; failed=1; }; \
	done; exit $$failed

clean:
	rm -rf build demo_project/.godot tests/project/.godot .sconsign.dblite compile_commands.json
	rm -f demo_project/addons/godot_aigym/bin/*.so python_host/godot_aigym/shared_object/_*.so
