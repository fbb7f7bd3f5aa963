"""service_update's liveness rule: a higher report_count stamps last_seen_up, nothing else does."""

import datetime
import time

import pytest
from oslo_utils import timeutils

from nubis.core.db import api

pytestmark = pytest.mark.usefixtures("db_url")


def _tick() -> None:
    """Let the clock move on so that a fresh stamp would differ from the last one."""
    time.sleep(0.002)


@pytest.fixture
def service(admin_context):
    return api.service_create(admin_context, {"host": "h", "binary": "nubis-compute"})


def test_higher_report_count_stamps_last_seen_up(admin_context, service):
    assert service.last_seen_up is None
    before = timeutils.utcnow()
    reported = api.service_update(admin_context, service.id, {"report_count": 1})
    assert reported.report_count == 1
    assert before <= reported.last_seen_up <= timeutils.utcnow()

    _tick()
    again = api.service_update(admin_context, service.id, {"report_count": 2})
    assert again.last_seen_up > reported.last_seen_up


def test_same_or_lower_report_count_leaves_last_seen_up(admin_context, service):
    first = api.service_update(admin_context, service.id, {"report_count": 5}).last_seen_up
    _tick()
    same = api.service_update(admin_context, service.id, {"report_count": 5})
    lower = api.service_update(admin_context, service.id, {"report_count": 3})
    assert same.last_seen_up == lower.last_seen_up == first
    assert lower.report_count == 3


def test_updates_without_report_count_leave_last_seen_up(admin_context, service):
    seen = api.service_update(admin_context, service.id, {"report_count": 1}).last_seen_up
    _tick()
    updated = api.service_update(admin_context, service.id, {"disabled": True, "version": 2})
    assert updated.last_seen_up == seen
    assert updated.updated_at > seen


def test_explicit_last_seen_up_wins(admin_context, service):
    given = datetime.datetime(2029, 12, 31, 0, 0, 0)
    updated = api.service_update(
        admin_context, service.id, {"report_count": 1, "last_seen_up": given}
    )
    assert updated.last_seen_up == given
