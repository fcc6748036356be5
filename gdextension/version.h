// The extension's version, kept in step with python_host/godot_aigym/__init__.py.
#pragma once
#define AIGYM_VERSION "0.1.0"
