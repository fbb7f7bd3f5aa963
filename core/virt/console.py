"""Console output helpers that drivers and the compute manager share.

A driver that logs a guest's serial console to a file reads it back with
:func:`read_log_tail` (bounded: the newest :data:`~.driver.MAX_CONSOLE_BYTES` at most,
whatever the file's size); the compute manager cuts what the driver returned to the
last lines a caller asked for with :func:`tail_lines`.
"""

from __future__ import annotations

import os

from nubis.core.virt.driver import MAX_CONSOLE_BYTES

__all__ = ["read_log_tail", "tail_lines"]


def read_log_tail(path: str, limit: int = MAX_CONSOLE_BYTES) -> str:
    """Return the newest *limit* bytes of the file at *path*, decoded as UTF-8 (bytes
    that do not decode, such as a character cut in half at the start, are replaced).

    ``""`` when the file does not exist (the guest has not written yet, or its log
    was removed meanwhile). Reads at most *limit* bytes whatever the file's size.
    """
    try:
        with open(path, "rb") as log:
            size = os.fstat(log.fileno()).st_size
            if size > limit:
                log.seek(size - limit)
            data = log.read(limit)
    except FileNotFoundError:
        return ""
    return data.decode("utf-8", errors="replace")


def tail_lines(text: str, length: int | None) -> str:
    """The last *length* lines of *text* (all of it for None or a negative number,
    ``""`` for 0), as Nova's compute manager cuts console output: lines are what
    ``\\n`` separates, so a final newline counts as an empty last line."""
    if length is None or length < 0:
        return text
    if length == 0:
        return ""
    return "\n".join(text.split("\n")[-length:])
