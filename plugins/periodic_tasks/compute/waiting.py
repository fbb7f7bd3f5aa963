"""How long an instance has waited in a state, for the tasks that act on it after a
configured time (:mod:`.reclaim`, :mod:`.shelved`)."""

from __future__ import annotations

import datetime

from oslo_utils import timeutils


def waited_more_than(
    since: datetime.datetime | None, seconds: float, now: datetime.datetime
) -> bool:
    """Whether more than *seconds* passed from *since* to *now*. Either may be naive
    (UTC) or aware; *since* None means unknown, which counts as long enough (as Nova
    decides for soft-deleted and shelved instances)."""
    if since is None:
        return True
    elapsed = timeutils.normalize_time(now) - timeutils.normalize_time(since)
    return elapsed.total_seconds() > seconds
