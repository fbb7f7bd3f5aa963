"""The uptime line, as procps' ``uptime`` prints it, and this machine's."""

from __future__ import annotations

import datetime
import re
import struct
from pathlib import Path

import pytest

from nubis.core.virt import uptime

NOON = datetime.datetime(2024, 5, 1, 12, 3, 4)


@pytest.mark.parametrize(
    ("seconds", "users", "expected"),
    [
        (59, 0, " 12:03:04 up 0 min,  0 user,  load average: 0.50, 1.00, 2.25"),
        (9 * 60 + 30, 1, " 12:03:04 up 9 min,  1 user,  load average: 0.50, 1.00, 2.25"),
        (3 * 3600 + 2 * 60, 2, " 12:03:04 up  3:02,  2 users,  load average: 0.50, 1.00, 2.25"),
        (
            86400 + 3 * 60,
            12,
            " 12:03:04 up 1 day, 3 min, 12 users,  load average: 0.50, 1.00, 2.25",
        ),
        (
            5 * 86400 + 14 * 3600 + 7 * 60,
            3,
            " 12:03:04 up 5 days, 14:07,  3 users,  load average: 0.50, 1.00, 2.25",
        ),
    ],
)
def test_the_line_of_procps(seconds: float, users: int, expected: str) -> None:
    assert uptime.uptime_line(seconds, users, (0.5, 1.0, 2.25), now=NOON) == expected


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="uptime of -1"):
        uptime.uptime_line(-1, 0, (0, 0, 0))
    with pytest.raises(ValueError, match="three load averages"):
        uptime.uptime_line(1, 0, (0, 0))


def _utmp_record(kind: int) -> bytes:
    return struct.pack("<h", kind) + b"\0" * 382


def test_users_are_the_user_sessions_of_utmp(tmp_path: Path, monkeypatch) -> None:
    utmp = tmp_path / "utmp"
    utmp.write_bytes(b"".join(_utmp_record(k) for k in (2, 7, 8, 7, 6)))  # boot, 2 users, ...
    monkeypatch.setattr(uptime, "UTMP_FILES", (str(tmp_path / "missing"), str(utmp)))
    assert uptime._logged_in_users() == 2
    monkeypatch.setattr(uptime, "UTMP_FILES", (str(tmp_path / "missing"),))
    assert uptime._logged_in_users() == 0


def test_this_machine_s_line() -> None:
    line = uptime.this_host_uptime()
    assert re.match(
        r"^ \d\d:\d\d:\d\d up .*, +\d+ users?,  load average: [\d.]+, [\d.]+, [\d.]+$", line
    ), line
    with open("/proc/uptime") as file:
        seconds = float(file.read().split()[0])
    if seconds < 3600:
        assert (
            f"up {int(seconds) // 60} min," in line or f"up {int(seconds) // 60 + 1} min," in line
        )
