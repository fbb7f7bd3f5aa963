"""The servicegroup API keeps the last known state while the backend is unreachable, for
at most service_down_time, and one shared API (one backend session) per process."""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from nubis.core import plugins
from nubis.core.conf import CONF
from nubis.core.servicegroup import api as sg_api
from nubis.core.servicegroup.driver import ServiceGroupDriver
from nubis.core.servicegroup.reachability import Reachability


class FlakyDriver(ServiceGroupDriver):
    """Answers from ``up``; "down" for everyone while ``reachability`` is lost."""

    made = 0

    def __init__(self, conf: Any) -> None:
        super().__init__(conf)
        type(self).made += 1
        self.up: set[str] = set()
        self.reachability = Reachability("flaky backend", "test", logging.getLogger("t"))
        self.cleaned = 0

    def join(self, member: str, group: str, service: Any = None) -> None:
        self.up.add(member)

    def leave(self, member: str, group: str, service: Any = None) -> None:
        self.up.discard(member)

    def is_up(self, service_ref: Any) -> bool:
        return not self.reachability.lost and service_ref.host in self.up

    def get_all(self, group: str) -> list[str]:
        return [] if self.reachability.lost else sorted(self.up)

    def cleanup(self) -> None:
        self.cleaned += 1


@pytest.fixture
def api(flags, monkeypatch) -> sg_api.API:
    flags(service_down_time=60, report_interval=10)
    flags(group="servicegroup", recovery_grace=0.3)
    monkeypatch.setattr(plugins, "load_one", lambda *a, **k: FlakyDriver)
    monkeypatch.setattr(
        "nubis.core.objects.service.ServiceList.get_hosts_by_topic",
        classmethod(lambda cls, ctx, group, forced_down=False: []),
    )
    return sg_api.API(CONF)


def _ref(host: str) -> Any:
    return SimpleNamespace(host=host, topic="compute", forced_down=False, last_seen_up=None)


def test_last_known_state_is_kept_while_the_backend_is_unreachable(api, caplog) -> None:
    driver = api.driver
    driver.up = {"a", "b"}
    assert api.get_all("compute") == ["a", "b"]
    assert api.is_up(_ref("a"))
    driver.reachability.lose("connection refused")
    assert driver.get_all("compute") == []  # the driver alone would say "all down"
    assert api.get_all("compute") == ["a", "b"]
    assert api.is_up(_ref("a")) and not api.is_up(_ref("c"))
    assert sum("last known state" in r.getMessage() for r in caplog.records) == 1


def test_the_kept_state_expires_after_service_down_time(api, flags, caplog) -> None:
    api.driver.up = {"a"}
    assert api.get_all("compute") == ["a"]
    api.driver.reachability.lose("timeout")
    flags(service_down_time=1)
    time.sleep(1.05)
    assert api.get_all("compute") == []
    assert api.get_all("compute") == []
    expired = [r for r in caplog.records if "longer than service_down_time" in r.getMessage()]
    assert len(expired) == 1


def test_members_count_as_up_while_they_re_register_after_recovery(api) -> None:
    api.driver.up = {"a", "b"}
    assert api.get_all("compute") == ["a", "b"]
    api.driver.reachability.lose("session expired")
    assert api.get_all("compute") == ["a", "b"]
    api.driver.up = {"a"}  # b's ephemeral node is not back yet
    api.driver.reachability.regain()
    assert api.get_all("compute") == ["a", "b"]
    assert api.is_up(_ref("b"))  # seen up before the outage, within the grace
    time.sleep(0.35)  # past recovery_grace
    assert api.get_all("compute") == ["a"]


def test_concurrent_first_callers_share_one_api_and_one_driver(flags, monkeypatch) -> None:
    # The shared API is per (configuration, driver name) and process-wide: a driver name
    # of this test's own makes it the first caller whatever ran before in the process.
    flags(group="servicegroup", driver="flaky-first-callers")
    FlakyDriver.made = 0
    real_init = FlakyDriver.__init__

    def slow_init(self: Any, conf: Any) -> None:
        time.sleep(0.05)  # widen the window an unlocked lazy creation would race in
        real_init(self, conf)

    monkeypatch.setattr(FlakyDriver, "__init__", slow_init)
    monkeypatch.setattr(plugins, "load_one", lambda *a, **k: FlakyDriver)
    got: list[sg_api.API] = []
    threads = [threading.Thread(target=lambda: got.append(sg_api.acquire(CONF))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(got) == 8 and len({id(a) for a in got}) == 1
    assert FlakyDriver.made == 1
    shared = got[0]
    for a in got[:-1]:
        a.cleanup()
    assert shared.driver.cleaned == 0  # still held once
    got[-1].cleanup()
    assert shared.driver.cleaned == 1
    again = sg_api.acquire(CONF)
    assert again is not shared  # a new one after the last release
    again.cleanup()


def test_the_grace_does_not_bring_back_a_state_that_expired_in_the_outage(api, flags) -> None:
    flags(group="servicegroup", recovery_grace=60)
    api.driver.up = {"a", "b"}
    assert api.get_all("compute") == ["a", "b"]
    assert api.is_up(_ref("b"))
    api.driver.reachability.lose("timeout")
    flags(service_down_time=1)
    time.sleep(1.05)
    assert api.get_all("compute") == []
    api.driver.up = {"a"}  # b died during the outage
    api.driver.reachability.regain()
    assert api.get_all("compute") == ["a"]
    assert not api.is_up(_ref("b"))
