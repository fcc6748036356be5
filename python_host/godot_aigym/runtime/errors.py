"""Errors raised while finding or preparing a Godot engine."""


class GodotNotFoundError(RuntimeError):
    """No usable Godot >= 4.3 could be found or provisioned; the message says what to install."""
