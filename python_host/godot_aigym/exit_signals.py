"""SIGINT/SIGTERM chained to a clean-up: how every owner of temporary resources handles them.

Shared-memory chunks, engine logs and X servers each remove their own resources on SIGINT or
SIGTERM, then hand the signal to the handler that was there before (another owner's, Python's
KeyboardInterrupt) or, if that was the default, die of the same signal as without us.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable


class ExitSignalChain:
    """One owner's link in the SIGINT/SIGTERM chain."""

    def __init__(self, clean_up: Callable[[], None]) -> None:
        self._clean_up = clean_up  # runs inside a signal handler: must not take locks
        self._previous: dict[int, object] = {}

    def handler(self, signum: int, frame) -> None:
        self._clean_up()
        previous = self._previous.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)  # e.g. another owner's handler, or KeyboardInterrupt
            return
        signal.signal(signum, signal.SIG_DFL)  # die of the same signal, as without us
        os.kill(os.getpid(), signum)

    def install(self) -> dict[int, object]:
        """Chain SIGINT/SIGTERM once, from the main thread, unless a signal is ignored or its
        handler was installed outside Python. Returns the signals chained by this call, each
        with the disposition it replaced."""
        chained: dict[int, object] = {}
        if threading.current_thread() is not threading.main_thread():
            return chained  # signal.signal only works there; atexit still cleans up
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signum in self._previous:
                continue
            current = signal.getsignal(signum)
            if current is signal.SIG_IGN or current is None:
                continue
            self._previous[signum] = current
            signal.signal(signum, self.handler)
            chained[signum] = current
        return chained
