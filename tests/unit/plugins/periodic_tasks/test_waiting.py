"""``waited_more_than``: naive and aware times, and an unknown start."""

from __future__ import annotations

import datetime

from nubis.plugins.periodic_tasks.compute.waiting import waited_more_than

NOW = datetime.datetime(2030, 1, 1, 12, 0, 0)
HOUR = datetime.timedelta(hours=1)


def test_naive_times() -> None:
    assert waited_more_than(NOW - 2 * HOUR, 3600, NOW)
    assert not waited_more_than(NOW - HOUR / 2, 3600, NOW)
    assert not waited_more_than(NOW - HOUR, 3600, NOW)  # more than, not as long as


def test_aware_and_mixed_times() -> None:
    aware_now = NOW.replace(tzinfo=datetime.UTC)
    assert waited_more_than((NOW - 2 * HOUR).replace(tzinfo=datetime.UTC), 3600, aware_now)
    # 13:00 at UTC+2 is 11:00 UTC: one hour before the naive (UTC) NOW
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    since = datetime.datetime(2030, 1, 1, 13, 0, 0, tzinfo=plus_two)
    assert waited_more_than(since, 1800, NOW)
    assert not waited_more_than(since, 3600, NOW)
    assert not waited_more_than(NOW - HOUR / 2, 3600, aware_now)


def test_unknown_start_is_long_enough() -> None:
    assert waited_more_than(None, 3600, NOW)
