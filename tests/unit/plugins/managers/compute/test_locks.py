"""KeyedLocks: one re-entrant lock per instance, and whether it is held right now."""

from __future__ import annotations

import threading

from nubis.core import exception
from nubis.plugins.managers.compute.locks import KeyedLocks


def test_is_held_while_anyone_holds_the_key_and_not_after() -> None:
    locks = KeyedLocks("instance")
    assert not locks.is_held("u1")
    with locks.hold("u1", "build", 1):
        assert locks.is_held("u1") and not locks.is_held("u2")
        with locks.hold("u1", "the power-state sync", 1):  # re-entrant, same thread
            assert locks.is_held("u1")
        assert locks.is_held("u1")
    assert not locks.is_held("u1")


def test_another_thread_waits_out_its_timeout_and_is_told_who_holds_it() -> None:
    locks = KeyedLocks("instance")
    outcome: list[BaseException] = []

    def other() -> None:
        try:
            with locks.hold("u1", "stop", 0):
                pass
        except exception.LockTimeout as exc:
            outcome.append(exc)

    with locks.hold("u1", "build", 1):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(10)
    assert len(outcome) == 1 and "build" in str(outcome[0])
    assert not locks.is_held("u1")
