"""Compute API microversions: which one a request asked for, and the range served.

A request names its microversion in ``OpenStack-API-Version: compute 2.30`` (or the
legacy ``X-OpenStack-Nova-API-Version: 2.30``); ``latest`` means :data:`MAX_VERSION`;
no header means :data:`MIN_VERSION`. A malformed value is a 400, a version outside the
range a 406, both with a message naming the header and the range.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from nubis.core.api import exception

HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
SERVICE_TYPE = "compute"

_VERSION_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@functools.total_ordering
class APIVersion:
    """A microversion ``major.minor``, ordered numerically (2.10 > 2.9)."""

    __slots__ = ("major", "minor")

    def __init__(self, major: int, minor: int) -> None:
        self.major = major
        self.minor = minor

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        """Parse ``"2.30"``; raise ValueError for anything else."""
        return _parse(text)

    def _key(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = APIVersion.parse(other)
        return isinstance(other, APIVersion) and self._key() == other._key()

    def __lt__(self, other: object) -> bool:
        if isinstance(other, str):
            other = APIVersion.parse(other)
        if not isinstance(other, APIVersion):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def __repr__(self) -> str:
        return f"APIVersion({self})"

    def matches(self, minimum: APIVersion | str | None, maximum: APIVersion | str | None) -> bool:
        """True when ``minimum <= self <= maximum`` (None: unbounded on that side)."""
        if minimum is not None and self < minimum:
            return False
        return not (maximum is not None and self > maximum)


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> APIVersion:
    # Handlers compare against constant strings ("2.47") many times per request.
    match = _VERSION_RE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a version of the form 2.30")
    return APIVersion(int(match.group(1)), int(match.group(2)))


MIN_VERSION = APIVersion(2, 1)
MAX_VERSION = APIVersion(2, 60)
"""The range served. Between them every change of Nova's microversion history that
touches a route nubis serves is honoured (docs/api.md lists the deviations)."""


def requested(headers: Mapping[str, str]) -> APIVersion:
    """Return the microversion *headers* ask for (see the module docstring)."""
    value = None
    header = HEADER
    raw = headers.get(HEADER)
    if raw:
        for item in raw.split(","):
            parts = item.strip().split(None, 1)
            if len(parts) == 2 and parts[0].lower() == SERVICE_TYPE:
                value = parts[1].strip()
                break
    if value is None:
        legacy = headers.get(LEGACY_HEADER)
        if legacy:
            value, header = legacy.strip(), LEGACY_HEADER
    if value is None:
        return MIN_VERSION
    if value.lower() == "latest":
        return MAX_VERSION
    try:
        version = APIVersion.parse(value)
    except ValueError:
        raise exception.InvalidMicroversion(
            reason=f"{header}: {value!r} is not a microversion such as 'compute 2.30' or "
            f"'compute latest'"
        ) from None
    if not version.matches(MIN_VERSION, MAX_VERSION):
        raise exception.UnsupportedMicroversion(
            reason=f"Version {version} is not supported by the API. Minimum is "
            f"{MIN_VERSION} and maximum is {MAX_VERSION}."
        )
    return version


def response_headers(version: APIVersion) -> list[tuple[str, str]]:
    """The headers every compute API response carries for *version*."""
    return [
        (HEADER, f"{SERVICE_TYPE} {version}"),
        (LEGACY_HEADER, str(version)),
        ("Vary", f"{HEADER}, {LEGACY_HEADER}"),
    ]
