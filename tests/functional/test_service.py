"""A service composed from a small plugin set, in this process over inproc://:
start order and hooks, ping, the service record, periodic tasks on schedule, a
graceful stop that finishes the in-flight call, SIGHUP's reset."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from nubis.core import exception
from nubis.core.context import get_admin_context
from nubis.core.objects.base import install_indirection
from nubis.core.rpc.baseapi import BaseAPI
from nubis.core.service import Service
from tests.fixtures import testplugins
from tests.fixtures.plugin_dist import on_path


@pytest.fixture
def testplugin_set(tmp_path):
    with on_path(testplugins.install(tmp_path / "plugins")) as root:
        yield root


@pytest.fixture
def embedded(flags, tmp_path, testplugin_set):
    """Configuration of a one-process deployment on a fresh SQLite database."""
    from nubis.core.db import engine, migration

    flags(
        transport_url=f"inproc:///{uuid.uuid4().hex}",
        periodic_fuzzy_delay=0,
        report_interval=1,
        graceful_shutdown_timeout=10,
    )
    flags(group="database", connection=f"sqlite:///{tmp_path}/nubis.sqlite")
    flags(group="conductor", manager="testecho", periodic_tasks=["testtick"])
    flags(group="conductor", topic=f"echo-{uuid.uuid4().hex[:8]}")
    flags(group="indirection", api="local")
    migration.db_sync()
    install_indirection()
    yield
    engine.reset()


def call(service: Service, method: str, **kwargs):
    import oslo_messaging as messaging

    from nubis.core import rpc

    client = rpc.get_client(messaging.Target(topic=service.topic, version="1.0"))
    return client.prepare(server=service.host, timeout=10).call(
        get_admin_context(), method, **kwargs
    )


def test_service_lifecycle(embedded):
    service = Service.create("conductor", host="h1")
    service.start()
    try:
        ctx = get_admin_context()
        assert BaseAPI(service.topic).ping(ctx, "x", server="h1", timeout=5)["host"] == "h1"
        assert service.service_ref.binary == "nubis-conductor"
        assert service.service_ref.host == "h1"
        assert call(service, "echo", value=[1, "a"]) == [1, "a"]

        time.sleep(0.7)
        stats = call(service, "stats")
        assert stats["hooks"] == ["init_host", "pre_start_hook", "post_start_hook"]
        assert 2 <= stats["ticks"] <= 6
        assert 2 <= stats["plugin_ticks"] <= 6

        service.reset()
        assert call(service, "stats")["resets"] == 1
    finally:
        service.stop()
    assert service.manager.hooks[-1] == "cleanup_host"


def test_restart_reuses_the_service_record(embedded):
    first = Service.create("conductor", host="h2")
    first.start()
    first_id = first.service_ref.id
    first.stop()
    second = Service.create("conductor", host="h2")
    second.start()
    try:
        assert second.service_ref.id == first_id
    finally:
        second.stop()


def test_stop_finishes_the_call_in_flight(embedded):
    service = Service.create("conductor", host="h3")
    service.start()
    result = {}

    def slow_call():
        result["value"] = call(service, "slow", seconds=1.0)

    caller = threading.Thread(target=slow_call)
    caller.start()
    time.sleep(0.3)
    began = time.monotonic()
    service.stop()
    caller.join(5)
    assert result == {"value": "done"}
    assert time.monotonic() - began >= 0.6
    assert service.manager.hooks[-1] == "cleanup_host"


def test_state_reports_advance_report_count(embedded):
    service = Service.create("conductor", host="h4")
    service.start()
    try:
        deadline = time.monotonic() + 5
        while service.service_ref.report_count < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert service.service_ref.report_count >= 2
        assert service.servicegroup_api.is_up(service.service_ref)
        assert service.servicegroup_api.get_all(service.topic) == ["h4"]
    finally:
        service.stop()


def test_unknown_manager_fails_before_anything_starts(embedded):
    with pytest.raises(exception.PluginNotFound) as err:
        Service.create("conductor", manager="nope")
    assert "available: compute, conductor, scheduler, testecho" in str(err.value)
