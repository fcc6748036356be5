"""What `EngineLink` says when its engine fails: the error a failed wait becomes (the engine
closed first), the errors the engine logged during a command, and the engine's last words
(its log's tail without Godot's noise, its fatal message).

Apart from link.py so the link reads as the protocol alone; nothing here is on the step path
(a step reaches it only when its wait failed or the engine logged an error)."""

from __future__ import annotations

import re
import warnings

from ..shm import EngineDiedError, EngineScriptError, WaitTimeout
from ..shm.errors import EngineTimeoutError
from . import protocol as P

# Godot's own noise in its log, left out of the excerpts our errors quote: the "misc2" lines
# of its X11/joypad start-up and the 32-hex-digit GUID lines of its controller database
_LOG_NOISE = re.compile(r"misc2|^[0-9a-f]{32},")


def log_excerpt(proc, keep_log: bool, lines: int = 25) -> str:
    """The last `lines` of the engine's log (without Godot's noise), for an error message."""
    if proc is None:
        return ""
    tail = [line for line in proc.log().splitlines() if not _LOG_NOISE.search(line)]
    text = "\n".join(tail[-lines:])
    where = f" ({proc.log_path})" if keep_log else ""
    return f"\n--- engine log{where} ---\n{text}" if text else ""


def fatal_text(fatal_tensor) -> str:
    """": <error>" of the engine's fatal message, or "" (none, or unreadable)."""
    try:
        fatal = P.read_message(fatal_tensor.view)
    except Exception:
        return ""
    return f": {fatal.get('error')}" if fatal else ""


def script_errors_text(count: int, message: dict | None, scene: str | None, log_path: str | None) -> str:
    """The text of a GodotScriptError: `count` errors logged during a command, the texts the
    engine sent in its error_texts `message`."""
    texts = [str(t) for t in (message or {}).get("engine_errors", [])]
    more = f"\n  ... and {count - len(texts)} more" if count > len(texts) else ""
    where = f" ({log_path})" if log_path else ""
    return (f"the Godot engine running {scene} logged {count} error(s) during this "
            f"command{where}:\n  " + "\n  ".join(texts) + more)


class LinkFailures:
    """`EngineLink`'s failure half (a base class): it uses the link's ``proc``, ``scene``,
    ``step_timeout``, ``engine_errors``, ``_engine_of``, ``_keep_log``, ``_errors``,
    ``_messages``, ``_connected``, ``_closed``, ``mem``, ``_message`` and ``close``."""

    @property
    def errors_pending(self) -> int:
        """How many errors the engine logged during the last command (not yet reported)."""
        return int(self._errors[0]) if self._connected and not self._closed else 0

    def report_errors(self, stacklevel: int = 4) -> None:
        """The engine logged errors during the last command: raise or warn (``engine_errors``)."""
        count = int(self._errors[0])
        self._errors[0] = 0
        if count < 0:  # was "logged -641564065 error(s)": the engine only ever adds to it
            raise P.GodotEnvError(f"the engine's error count in the chunk of {self.scene} is {count}, not a count: "
                                  "something other than godot-aigym wrote into the shared memory")
        msg = script_errors_text(count, self._message("error_texts"), self.scene,
                                 self.proc.log_path if self._keep_log and self.proc else None)
        if self.engine_errors == "raise":
            raise P.GodotScriptError(msg)
        if self.engine_errors == "warn":
            warnings.warn(msg, P.GodotScriptWarning, stacklevel=stacklevel)

    def _wait_failed(self, exc: BaseException) -> Exception:
        """Close everything after a failed wait; the error to raise (with the engine's last words)."""
        if isinstance(exc, EngineScriptError):  # stuck for good on its error: nothing will answer
            self.close(grace=0)
            return exc
        if isinstance(exc, WaitTimeout):
            log, which = self._log_excerpt(), self._which()
            self.close(grace=0)
            return EngineTimeoutError(f"the engine running {self.scene}{which} did not answer within "
                                      f"{self.step_timeout:g} s (hung?); it was stopped{log}")
        which = self._which()  # before close(): the pid
        code = self.proc.poll() if self.proc else None
        fatal = self._fatal_text()
        msg = fatal + self._log_excerpt()
        # set while we waited for an answer and before any close() of ours (which sets _closed first)
        asked = not self._closed and self.mem is not None and not self.mem.closed and self.mem.shutdown_requested
        self.close()
        if asked and not fatal:
            return EngineDiedError(f"the Godot engine running {self.scene}{which} quit (exit code {code}) because the "
                                   "shutdown word of its shared memory was set, not by this host: another process "
                                   f"wrote into the chunk; the environment is closed{msg}")
        if fatal:  # the scene stopped itself (GymEnv.fail), e.g. on its first observation: not a crash
            return EngineDiedError(f"the Godot engine running {self.scene}{which} stopped on an error of the scene "
                                   f"(exit code {code}); the environment is closed{msg}")
        return EngineDiedError(f"the Godot engine running {self.scene}{which} died (exit code {code}) in the middle "
                               f"of an episode; the environment is closed{msg}")

    def _which(self) -> str:
        """' (engine k of M, pid N)' for an engine of a several-engine env, else '': which one failed."""
        k, m = self._engine_of
        if k is None or m < 2:
            return ""
        pid = self.proc.pid if self.proc is not None else None
        return f" (engine {k} of {m}" + (f", pid {pid})" if pid is not None else ")")

    def _fatal_text(self) -> str:
        return fatal_text(self._messages["fatal"])

    def _log_excerpt(self) -> str:
        return log_excerpt(self.proc, self._keep_log)
