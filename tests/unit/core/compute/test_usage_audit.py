"""The instance usage audit's periods (nubis.core.compute.usage_audit): the last period
completed before a moment, per unit and offset, as Nova computes them."""

from __future__ import annotations

import datetime

import pytest
from oslo_utils import timeutils

from nubis.core.compute.usage_audit import last_completed_audit_period

D = datetime.datetime


@pytest.mark.parametrize(
    ("period", "before", "expected"),
    [
        ("month", D(2024, 3, 15, 10), (D(2024, 2, 1), D(2024, 3, 1))),
        # the period ending exactly now is not completed yet
        ("month", D(2024, 3, 1), (D(2024, 1, 1), D(2024, 2, 1))),
        ("month", D(2024, 1, 10), (D(2023, 12, 1), D(2024, 1, 1))),
        ("month", D(2024, 2, 3), (D(2024, 1, 1), D(2024, 2, 1))),
        ("month@15", D(2024, 3, 20), (D(2024, 2, 15), D(2024, 3, 15))),
        ("month@15", D(2024, 3, 10), (D(2024, 1, 15), D(2024, 2, 15))),
        ("month@15", D(2024, 1, 10), (D(2023, 11, 15), D(2023, 12, 15))),
        ("month@0", D(2024, 3, 15), (D(2024, 2, 1), D(2024, 3, 1))),
        ("day", D(2024, 3, 15, 10), (D(2024, 3, 14), D(2024, 3, 15))),
        ("day@12", D(2024, 3, 15, 10), (D(2024, 3, 13, 12), D(2024, 3, 14, 12))),
        ("day@12", D(2024, 3, 15, 13), (D(2024, 3, 14, 12), D(2024, 3, 15, 12))),
        ("hour", D(2024, 3, 15, 10, 30), (D(2024, 3, 15, 9), D(2024, 3, 15, 10))),
        ("hour@45", D(2024, 3, 15, 10, 30), (D(2024, 3, 15, 8, 45), D(2024, 3, 15, 9, 45))),
        ("year", D(2024, 3, 15), (D(2023, 1, 1), D(2024, 1, 1))),
        ("year@6", D(2024, 3, 15), (D(2022, 6, 1), D(2023, 6, 1))),
        ("year@6", D(2024, 7, 1), (D(2023, 6, 1), D(2024, 6, 1))),
    ],
)
def test_the_last_completed_period(period, before, expected):
    assert last_completed_audit_period(period, before) == expected


def test_an_aware_moment_is_taken_in_utc():
    tz = datetime.timezone(datetime.timedelta(hours=2))
    before = D(2024, 3, 1, 1, tzinfo=tz)  # 2024-02-29 23:00 UTC
    assert last_completed_audit_period("month", before) == (D(2024, 1, 1), D(2024, 2, 1))


def test_now_by_default():
    begin, end = last_completed_audit_period("day")
    assert end <= timeutils.utcnow() and end - begin == datetime.timedelta(days=1)


@pytest.mark.parametrize("before", [D(1, 1, 1), D(1, 1, 5)])
def test_a_period_before_year_1_is_a_value_error(before):
    with pytest.raises((ValueError, OverflowError)):
        last_completed_audit_period("month", before)


def test_an_unknown_unit_is_refused():
    with pytest.raises(ValueError, match="unknown audit period unit 'week'"):
        last_completed_audit_period("week", D(2024, 1, 1))
