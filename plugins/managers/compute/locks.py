"""Locks that are always taken with a timeout and say who holds them when they time out.

Every wait in nubis is bounded (docs/architecture.md, Concurrency). A lock that cannot be had in
time raises :class:`~nubis.core.exception.LockTimeout` naming the lock, who wanted it
and who holds it -- the line an operator needs when, say, a resource audit is stuck in
a slow conductor call while a build waits for its claim.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator

from nubis.core import exception


class TimedLock:
    """A :class:`threading.Lock` taken only with a timeout (not re-entrant)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self.holder: str | None = None

    @contextlib.contextmanager
    def hold(self, wanted_by: str, timeout: float) -> Iterator[None]:
        """Hold the lock for the block; LockTimeout after *timeout* seconds of waiting."""
        if not self._lock.acquire(timeout=max(timeout, 0)):
            raise exception.LockTimeout(
                lock=self.name, wanted_by=wanted_by, timeout=timeout, holder=self.holder or "nobody"
            )
        self.holder = wanted_by
        try:
            yield
        finally:
            self.holder = None
            self._lock.release()


@dataclasses.dataclass
class _Entry:
    lock: threading.RLock = dataclasses.field(default_factory=threading.RLock)
    users: int = 0
    holders: list[str] = dataclasses.field(default_factory=list)


class KeyedLocks:
    """One re-entrant lock per key (an instance uuid), created on demand, dropped when unused.

    Re-entrant so that work holding an instance's lock (the power-state sync) may run an
    operation that takes it again (stopping the instance).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._guard = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def is_held(self, key: str) -> bool:
        """Whether someone holds *key*'s lock at this moment (it may be free the next)."""
        with self._guard:
            entry = self._entries.get(key)
            return entry is not None and bool(entry.holders)

    @contextlib.contextmanager
    def hold(self, key: str, wanted_by: str, timeout: float) -> Iterator[None]:
        """Hold *key*'s lock for the block; *timeout* 0 means "only if free right now"."""
        with self._guard:
            entry = self._entries.setdefault(key, _Entry())
            entry.users += 1
        try:
            got = (
                entry.lock.acquire(blocking=False)
                if timeout <= 0
                else entry.lock.acquire(timeout=timeout)
            )
            if not got:
                raise exception.LockTimeout(
                    lock=f"{self.kind} {key}",
                    wanted_by=wanted_by,
                    timeout=timeout,
                    holder=", ".join(entry.holders) or "nobody",
                )
            entry.holders.append(wanted_by)
            try:
                yield
            finally:
                entry.holders.pop()
                entry.lock.release()
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0:
                    self._entries.pop(key, None)
