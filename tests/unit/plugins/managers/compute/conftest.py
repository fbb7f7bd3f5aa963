"""Fixtures of the compute manager's unit tests: a migrated SQLite database reached
through a counting ``local`` indirection, fake-driver hosts and compute managers; and,
for the records a failed operation keeps (PendingRecords), a conductor that is away.

Nothing here is a mock: the drivers are the ``fake`` plugin (configured through a
private ConfigOpts each, as a deployment would configure one host), the objects run
their remotable methods through the real ``local`` indirection plugin, which only
counts what passes through it.
"""

from __future__ import annotations

import collections
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from nubis.core import objects, plugins
from nubis.core.compute.states import VMState
from nubis.core.context import RequestContext, get_admin_context
from nubis.core.objects import base
from nubis.core.virt import power_state
from nubis.plugins.managers.compute.bookkeeping import PendingRecords


class CountingIndirection(plugins.load_one("nubis.indirection", "local")):  # type: ignore[misc]
    """The ``local`` indirection plugin, counting (object name, method) per call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()

    def object_action(self, context: Any, objinst: Any, objmethod: str, args: Any, kwargs: Any):
        self.calls[(objinst.obj_name(), objmethod)] += 1
        return super().object_action(context, objinst, objmethod, args, kwargs)

    def object_class_action_versions(
        self, context, objname, objmethod, object_versions, args, kwargs
    ):
        self.calls[(objname, objmethod)] += 1
        return super().object_class_action_versions(
            context, objname, objmethod, object_versions, args, kwargs
        )


@pytest.fixture
def indirection(sqlite_db_url: str) -> Iterator[CountingIndirection]:
    """Remotable methods run locally on a fresh SQLite database, counted."""
    objects.register_all()
    api = CountingIndirection()
    base.set_indirection_api(api)
    yield api
    base.set_indirection_api(None)


@pytest.fixture
def ctx(indirection: CountingIndirection) -> RequestContext:
    return get_admin_context()


@pytest.fixture
def fake_host() -> Iterator[Callable[..., Any]]:
    """``fake_host(**fake_driver_options)``: an initialised fake driver on a unique host."""
    started: list[tuple[Any, str]] = []
    driver_cls = plugins.load_one("nubis.virt", "fake", "[compute] virt_driver")

    def start(host: str | None = None, init: bool = True, **options: Any) -> Any:
        host = host or f"cmp-{uuid.uuid4().hex[:8]}"
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[])
        driver = driver_cls(conf)
        for name, value in options.items():
            conf.set_override(name, value, group="fake_driver")
        if init:
            driver.init_host(host)
            started.append((driver, host))
        return driver

    yield start
    for driver, host in started:
        driver.cleanup_host(host)


@pytest.fixture
def compute_manager(
    indirection: CountingIndirection, fake_host: Callable[..., Any]
) -> Iterator[Callable[..., Any]]:
    """``compute_manager(**fake_driver_options)``: a ComputeManager whose init_host ran."""
    managers: list[Any] = []
    manager_cls = plugins.load_one("nubis.managers", "compute", "[compute] manager")

    def make(host: str | None = None, **options: Any) -> Any:
        host = host or f"cmp-{uuid.uuid4().hex[:8]}"
        driver = fake_host(host, init=False, **options)
        manager = manager_cls(host=host, driver=driver)
        manager.init_host()
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        manager.cleanup_host()


def new_instance(
    context: Any,
    host: str | None,
    node: str | None,
    *,
    memory_mb: int = 512,
    vcpus: int = 1,
    root_gb: int = 1,
    vm_state: str = VMState.ACTIVE,
    task_state: str | None = None,
    power: int = power_state.RUNNING,
) -> Any:
    """Create an instance record (no guest)."""
    instance = objects.Instance(context)
    instance.uuid = str(uuid.uuid4())
    instance.display_name = "vm"
    instance.host = host
    instance.node = node
    instance.memory_mb = memory_mb
    instance.vcpus = vcpus
    instance.root_gb = root_gb
    instance.ephemeral_gb = 0
    instance.image_ref = ""
    instance.vm_state = vm_state
    instance.task_state = task_state
    instance.power_state = power
    instance.create()
    return instance


class AwayConductor:
    """A conductor that is away until ``up`` is set; records what was written."""

    def __init__(self) -> None:
        self.up = False
        self.written: list[str] = []

    def writer(self, name: str, error: BaseException | None = None) -> Any:
        def write() -> None:
            if error is not None:
                raise error
            if not self.up:
                raise messaging.MessagingTimeout("no reply from the conductor")
            self.written.append(name)

        return write


def bookkeeping_conf(interval: float = 0.05, timeout: float = 60.0) -> Any:
    """The two options PendingRecords reads: retry every *interval* s for *timeout* s."""
    return SimpleNamespace(
        compute=SimpleNamespace(
            bookkeeping_retry_interval=interval, bookkeeping_retry_timeout=timeout
        )
    )


@pytest.fixture
def pending() -> Iterator[PendingRecords]:
    """Records of host cmp1 retried every 50 ms; stopped after the test."""
    records = PendingRecords(bookkeeping_conf(), "cmp1")
    yield records
    records.stop()
