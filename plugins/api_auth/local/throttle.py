"""Throttling failed password authentications per client address (a sliding window)."""

from __future__ import annotations

import collections
import threading
import time

from nubis.core.api.exception import RetryLater, TooManyRequests


class AddressThrottle:
    """Failed password authentications per client address in a sliding window (see
    the module docstring). Remembers at most *max_addresses* addresses (the least
    recently failing are forgotten first)."""

    def __init__(self, max_addresses: int = 10000) -> None:
        self.max_addresses = max_addresses
        self._failures: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def retry_after(self, address: str, attempts: int, window: float) -> float | None:
        """Seconds until *address* may try again, or None if it may now."""
        if attempts <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            times = self._failures.get(address)
            if times is None:
                return None
            recent = [t for t in times if now - t < window]
            if len(recent) < attempts:
                return None
            return recent[-attempts] + window - now

    def failed(self, address: str, attempts: int) -> None:
        """Record a failure of *address* (keeping the last *attempts* times)."""
        if attempts <= 0:
            return
        with self._lock:
            times = self._failures.pop(address, None)
            if times is None or times.maxlen != attempts:
                times = collections.deque(times or (), maxlen=attempts)
            times.append(time.monotonic())
            self._failures[address] = times
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()


def too_many(attempts: int, window: float, wait: float) -> RetryLater:
    return TooManyRequests(
        reason=f"Too many failed authentications from this address ({attempts} within "
        f"{window:g} s: [local_auth] address_failure_attempts); retry later.",
        retry_after=int(wait) + 1,
    )
