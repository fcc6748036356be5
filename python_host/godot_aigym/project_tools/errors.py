"""The one error family of the project tools: a message for the user, naming the thing and the fix."""


class ProjectError(RuntimeError):
    """`add`, `new-env` or `export` cannot do what was asked; nothing was left half-written."""
