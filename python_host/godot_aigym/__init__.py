"""godot-aigym: Godot 4 scenes as fast reinforcement-learning environments over shared memory."""

__version__ = "0.1.0"
