"""A host's uptime as the ``uptime`` command prints it (what Nova's
``get_host_uptime`` answers): ``" 22:36:15 up 3 days,  4:05,  2 users,  load
average: 0.58, 0.35, 0.18"``.

:func:`uptime_line` formats any host's figures (a driver for a simulated host passes
its own); :func:`this_host_uptime` reads this machine's from ``/proc`` and utmp.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Sequence

__all__ = ["uptime_line", "this_host_uptime"]

PROC_UPTIME = "/proc/uptime"
PROC_LOADAVG = "/proc/loadavg"
UTMP_FILES = ("/run/utmp", "/var/run/utmp")

#: ``struct utmp`` of glibc on Linux: 384 bytes, ``ut_type`` a short at offset 0.
_UTMP_RECORD = 384
_USER_PROCESS = 7


def uptime_line(
    seconds: float,
    users: int,
    load: Sequence[float],
    now: datetime.datetime | None = None,
) -> str:
    """The ``uptime`` line of a host up *seconds*, with *users* logged in and load
    averages *load* (1, 5 and 15 minutes), at local time *now* (default: now).

    Raises ValueError for a negative uptime or fewer than three load averages.
    """
    if seconds < 0:
        raise ValueError(f"an uptime of {seconds} s")
    if len(load) < 3:
        raise ValueError(f"three load averages are needed, got {len(load)}")
    now = now or datetime.datetime.now()
    minutes_total = int(seconds) // 60
    days, minutes_of_day = divmod(minutes_total, 24 * 60)
    hours, minutes = divmod(minutes_of_day, 60)
    up = f"{days} {'days' if days > 1 else 'day'}, " if days else ""
    up += f"{hours:2d}:{minutes:02d}, " if hours else f"{minutes} min, "
    who = f"{users:2d} {'users' if users > 1 else 'user'},  "
    averages = ", ".join(f"{value:.2f}" for value in load[:3])
    return f" {now:%H:%M:%S} up {up}{who}load average: {averages}"


def _logged_in_users() -> int:
    """The user sessions utmp records (0 when the system keeps no utmp)."""
    for path in UTMP_FILES:
        try:
            with open(path, "rb") as utmp:
                data = utmp.read()
        except OSError:
            continue
        count = 0
        for offset in range(0, len(data) - _UTMP_RECORD + 1, _UTMP_RECORD):
            (kind,) = struct.unpack_from("<h", data, offset)
            if kind == _USER_PROCESS:
                count += 1
        return count
    return 0


def this_host_uptime() -> str:
    """The ``uptime`` line of the machine this runs on (from /proc/uptime,
    /proc/loadavg and utmp). Raises OSError when /proc cannot be read."""
    with open(PROC_UPTIME, encoding="ascii") as file:
        seconds = float(file.read().split()[0])
    with open(PROC_LOADAVG, encoding="ascii") as file:
        load = [float(value) for value in file.read().split()[:3]]
    return uptime_line(seconds, _logged_in_users(), load)
