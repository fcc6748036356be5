"""The autoreset modes our batched environments accept (`GodotVectorEnv`, `GodotGroupEnv`): one parser."""

from __future__ import annotations

from typing import Any

from gymnasium.vector import AutoresetMode

# gymnasium's value ("NextStep"), its name ("NEXT_STEP") and the name in lower case ("next_step")
BY_TEXT = {text: mode for mode in AutoresetMode for text in (mode.value, mode.name, mode.name.lower())}
VALID = ", ".join(f"AutoresetMode.{m.name} ({m.value!r} or {m.name.lower()!r})" for m in AutoresetMode)


def parse_autoreset_mode(value: Any) -> AutoresetMode:
    """gymnasium's `AutoresetMode`, its value as gymnasium spells it ("NextStep", "SameStep",
    "Disabled") or its name ("NEXT_STEP" or "next_step"); anything else is a ValueError naming them."""
    if isinstance(value, AutoresetMode):
        return value
    mode = BY_TEXT.get(value) if isinstance(value, str) else None
    if mode is None:
        raise ValueError(f"autoreset_mode must be one of {VALID}; got {value!r}")
    return mode
