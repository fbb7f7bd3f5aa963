"""The compute manager keeps the records of a failed operation that the database or the
conductor could not take, and writes them, in order, when they answer again."""

from __future__ import annotations

import logging

import oslo_messaging as messaging

from nubis.core import exception
from nubis.plugins.managers.compute import bookkeeping
from nubis.plugins.managers.compute.bookkeeping import PendingRecords
from tests.unit.plugins.managers.compute.conftest import AwayConductor, bookkeeping_conf


def test_records_are_kept_and_written_in_order_when_the_conductor_returns(pending, caplog) -> None:
    caplog.set_level(logging.INFO)
    backend = AwayConductor()
    assert not pending.write("fault of i1", backend.writer("fault"))
    assert not pending.write("revert of i1", backend.writer("revert"))
    assert pending.pending() == ["fault of i1", "revert of i1"]
    assert backend.written == []
    backend.up = True
    assert pending.flush() == 0
    assert backend.written == ["fault", "revert"]
    assert pending.written_late == 2


def test_the_thread_writes_them_without_being_asked(pending) -> None:
    backend = AwayConductor()
    pending.write("fault of i1", backend.writer("fault"))
    backend.up = True
    import time

    deadline = time.monotonic() + 5
    while backend.written != ["fault"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert backend.written == ["fault"]
    assert len(pending) == 0


def test_records_that_no_longer_apply_are_dropped_quietly(pending) -> None:
    backend = AwayConductor()
    pending.write("revert of i1", backend.writer("revert"))
    gone = exception.InstanceNotFound(instance_id="i1")
    pending.keep("end of i1", backend.writer("x", gone), None)
    backend.up = True
    assert pending.flush() == 0
    assert backend.written == ["revert"]
    assert pending.dropped == 0


def test_nubis_verdicts_are_not_retried(pending) -> None:
    error = exception.Invalid(message="bad")
    assert not pending.write("fault", AwayConductor().writer("x", error))
    assert len(pending) == 0


def test_records_past_their_deadline_are_dropped_with_an_error(caplog) -> None:
    records = PendingRecords(bookkeeping_conf(timeout=0), "cmp1")
    try:
        records.write("fault of i1", AwayConductor().writer("fault"))
        assert records.flush() == 0
        assert records.dropped == 1
        assert any("gave up" in r.getMessage() for r in caplog.records)
    finally:
        records.stop()


def test_is_transient() -> None:
    assert bookkeeping.is_transient(messaging.MessagingTimeout("x"))
    assert bookkeeping.is_transient(RuntimeError("OperationalError_Remote"))
    assert bookkeeping.is_transient(exception.ServiceUnavailable(what="x", reason="y"))
    assert not bookkeeping.is_transient(exception.Invalid(message="x"))
