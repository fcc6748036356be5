"""Is a shared-memory file private to us? The defence against name squatting.

Another local user can create ``/dev/shm/<name>`` before we do and make it world-readable
and -writable; whoever then attaches to it silently shares everything with that user. So
every attach (chunks, SharedObject segments, and the engine's ``aigym_shm_attach``) checks
the opened file -- with ``fstat`` on the fd, never a racy ``stat`` of the path -- and refuses
one owned by another uid or granting any group/other permission.
"""

from __future__ import annotations

import os
import pwd
import stat


def user_name(uid: int) -> str:
    """'alice (uid 1000)', or 'uid 1000' when the uid has no passwd entry."""
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (KeyError, OSError):
        return f"uid {uid}"


def not_private_reason(st: os.stat_result) -> str | None:
    """Why a file with this ``fstat`` result must not be trusted, or None if it is ours and private."""
    mode = stat.S_IMODE(st.st_mode)
    if not stat.S_ISREG(st.st_mode):
        return "it is not a regular file"
    if st.st_uid != os.geteuid():
        return (f"it is owned by {user_name(st.st_uid)}, not by {user_name(os.geteuid())} (mode {mode:04o}); "
                "another user may have created it to read or change our data")
    if mode & 0o077:
        return (f"its mode {mode:04o} gives group/other access (expected 0600; owner {user_name(st.st_uid)}); "
                "another user could read or change our data")
    return None
