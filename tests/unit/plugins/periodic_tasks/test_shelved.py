"""``offload_shelved_instances``: when a shelved instance has waited long enough, and
that the task does nothing unless ``[DEFAULT] shelved_offload_time`` is positive."""

from __future__ import annotations

import datetime
from typing import Any

from nubis.plugins.periodic_tasks.compute import shelved

NOW = datetime.datetime(2024, 5, 1, 12, 0, 0)


def test_shelved_long_enough() -> None:
    ten_ago = (NOW - datetime.timedelta(seconds=10)).isoformat()
    assert shelved.shelved_long_enough(ten_ago, 5, NOW)
    assert not shelved.shelved_long_enough(ten_ago, 10, NOW)
    aware = (NOW - datetime.timedelta(seconds=10)).replace(tzinfo=datetime.UTC).isoformat()
    assert shelved.shelved_long_enough(aware, 5, NOW)
    # unknown: offloaded, as Nova decides
    assert shelved.shelved_long_enough(None, 3600, NOW)
    assert shelved.shelved_long_enough("not a time", 3600, NOW)


def test_nothing_to_do_unless_the_time_is_positive(monkeypatch: Any) -> None:
    class Host:
        host = "h"

        def __init__(self, wait: int) -> None:
            self.conf = type("Conf", (), {"shelved_offload_time": wait})()

    monkeypatch.setattr(shelved, "compute_host_of", lambda manager, task: manager)
    called: list[float] = []

    def offload(host: Any, ctx: Any, wait: float) -> list[str]:
        called.append(wait)
        return []

    monkeypatch.setattr(shelved, "offload", offload)
    for wait in (0, -1):
        assert shelved.offload_shelved_instances(Host(wait), None) == []
    assert called == []
    shelved.offload_shelved_instances(Host(30), None)
    assert called == [30]
