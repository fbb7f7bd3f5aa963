"""The embedded deployment the servicegroup suite runs members and observers in."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nubis.core.conformance import harness

REPORT_INTERVAL = 1
SERVICE_DOWN_TIME = 3
BINARY = "nubis-conductor"


class Deployment:
    """One embedded deployment: members (services) and observers of one topic."""

    def __init__(
        self,
        driver_name: str,
        topic: str,
        db_path: str,
        flags: Callable[..., None],
        extras: Any = None,
    ) -> None:
        self.driver_name = driver_name
        self.topic = topic
        self.db_path = db_path
        self.flags = flags
        self.extras = dict(extras or {})
        self.members: dict[str, Any] = {}
        self.stopped: set[str] = set()
        self._observers: list[Any] = []

    def start(self, host: str) -> Any:
        """Start a real service (the conductor manager) on *host*; it joins the topic.

        The harness joins it a second time at once: joining twice is harmless.
        """
        from nubis.core.service import Service

        service = Service.create("conductor", host=host, topic=self.topic)
        self.members[host] = service
        service.start()
        service.servicegroup_api.join(host, self.topic, service)
        return service

    def stop(self, host: str) -> None:
        """Stop member *host*; the harness makes the driver leave once more first."""
        service = self.members[host]
        if host in self.stopped:
            return
        self.stopped.add(host)
        api = service.servicegroup_api
        if api is not None:
            api.driver.leave(host, self.topic, service)
        service.stop()

    def observer(self) -> Any:
        """A servicegroup API with its own driver instance, as another process has."""
        from nubis.core.servicegroup.api import API

        api = API()
        self._observers.append(api)
        return api

    def record(self, host: str) -> Any:
        """The service record of *host* as the database has it now."""
        from nubis.core.context import get_admin_context
        from nubis.core.objects.service import Service as ServiceRecord

        record = ServiceRecord.get_by_host_and_binary(get_admin_context(), host, BINARY)
        assert record is not None, f"no service record for {host}"
        return record

    def left_behind(self, host: str) -> str:
        """What member *host* still holds on the server ("" when nothing or unknown)."""
        check = self.extras.get("left_behind")
        return str(check(self, host)) if check is not None else ""

    def close(self) -> list[str]:
        """Stop every member and observer; return what the members left behind."""
        for host in list(self.members):
            self.stop(host)
        for api in self._observers:
            api.driver.cleanup()
        problems = []
        for host in sorted(self.members):
            what = self.left_behind(host)
            if what:
                problems.append(f"member {host} left {what} behind after it left")
        return problems


@contextlib.contextmanager
def open_deployment(
    driver_name: str,
    flags: Callable[..., None],
    directory: Path,
    extras: Any = None,
) -> Iterator[Deployment]:
    """Set up an embedded deployment for servicegroup driver *driver_name*.

    *flags* overrides options on the global CONF (the driver's own options must be set
    by the caller); *directory* holds the SQLite database. The deployment is closed
    on exit (what members left behind is raised as AssertionError).
    """
    from nubis.core.db import engine, migration
    from nubis.core.objects.base import install_indirection

    flags(
        transport_url=f"inproc:///{uuid.uuid4().hex}",
        report_interval=REPORT_INTERVAL,
        service_down_time=SERVICE_DOWN_TIME,
        periodic_enable=False,
        graceful_shutdown_timeout=5,
    )
    db_path = str(directory / "nubis.sqlite")
    flags(group="database", connection=f"sqlite:///{db_path}")
    flags(group="indirection", api="local")
    flags(group="servicegroup", driver=driver_name)
    migration.db_sync()
    install_indirection()
    deployment = Deployment(driver_name, f"sg-{uuid.uuid4().hex[:8]}", db_path, flags, extras)
    try:
        yield deployment
    finally:
        problems = deployment.close()
        engine.reset()
    assert not problems, "; ".join(problems)


@pytest.fixture
def nubis_deployment(
    nubis_target: harness.TargetRun,
    nubis_flags: Callable[..., None],
    nubis_conf: Any,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Deployment]:
    extras = dict(nubis_target.target.extras)
    try:
        with open_deployment(nubis_target.subject.name, nubis_flags, tmp_path, extras) as dep:
            yield dep
    except AssertionError as exc:  # what the members left behind
        if not harness.call_failed(request.node):
            pytest.fail(f"{nubis_target.label}: {exc}", pytrace=False)
