"""The DB access guard: a process that must not touch the database says so once.

nubis-compute (any service whose remotable methods go to the conductor) calls
:func:`block` at start; from then on every way to a database connection in
:mod:`nubis.core.db.engine` raises :class:`~nubis.core.exception.DBNotAllowed` naming
the binary and the function that tried. This module imports nothing heavy, so blocking
costs a process nothing it would not otherwise load.
"""

from __future__ import annotations

import sys
from types import FrameType

from nubis.core import exception

_blocked_binary: str | None = None

_GUARD_MODULES = frozenset({__name__, "nubis.core.db.engine", "contextlib"})


def block(binary: str) -> None:
    """Forbid all database access in this process from now on, on behalf of *binary*."""
    global _blocked_binary
    _blocked_binary = binary


def unblock() -> None:
    """Allow database access again (tests)."""
    global _blocked_binary
    _blocked_binary = None


def caller_name(frame: FrameType | None) -> str:
    """Return ``module.qualname`` of the first frame outside the DB plumbing."""
    while frame is not None and frame.f_globals.get("__name__") in _GUARD_MODULES:
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_globals.get('__name__')}.{frame.f_code.co_qualname}"


def ensure_allowed(caller: str | None) -> None:
    """Raise DBNotAllowed when database access is blocked in this process."""
    if _blocked_binary is not None:
        raise exception.DBNotAllowed(
            binary=_blocked_binary, caller=caller or caller_name(sys._getframe(1))
        )
