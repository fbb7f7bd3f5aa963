"""The deployment of the indirection suite: a database, a conductor, the plugin installed."""

from __future__ import annotations

import collections
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nubis.core.conformance import harness


class CountingProxy(harness.ContractProxy):
    """The contract proxy, counting the calls of each method."""

    def __init__(self, wrapped: Any, label: str) -> None:
        super().__init__(wrapped, label)
        self.calls: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = super().__getattr__(name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
            return attr(*args, **kwargs)

        return counted


class Indirection:
    """The plugin under test, installed; and the way back to no indirection."""

    def __init__(self, proxy: CountingProxy) -> None:
        self.proxy = proxy

    def install(self) -> None:
        from nubis.core.objects import base

        base.set_indirection_api(self.proxy)

    def uninstall(self) -> None:
        from nubis.core.objects import base

        base.set_indirection_api(None)

    @property
    def calls(self) -> collections.Counter[str]:
        return self.proxy.calls


@pytest.fixture
def nubis_indirection(
    nubis_target: harness.TargetRun,
    nubis_flags: Callable[..., None],
    nubis_conf: Any,
    tmp_path: Path,
) -> Iterator[Indirection]:
    from nubis.core import objects
    from nubis.core.db import engine, migration
    from nubis.core.objects import base
    from nubis.core.service import Service

    objects.register_all()
    tag = uuid.uuid4().hex[:8]
    nubis_flags(
        transport_url=f"inproc:///indirection-{tag}",
        report_interval=60,
        periodic_enable=False,
        graceful_shutdown_timeout=5,
    )
    nubis_flags(group="database", connection=f"sqlite:///{tmp_path / 'nubis.sqlite'}")
    nubis_flags(group="conductor", topic=f"conductor-{tag}")
    nubis_flags(group="servicegroup", driver="db")
    migration.db_sync()
    base.set_indirection_api(None)  # the conductor starts with direct access
    conductor = Service.create("conductor", host=f"conductor-{tag}")
    conductor.start()
    try:
        proxy = CountingProxy(nubis_target.plugin(), nubis_target.label)
        indirection = Indirection(proxy)
        indirection.install()
        try:
            yield indirection
        finally:
            base.set_indirection_api(None)
    finally:
        conductor.stop()
        engine.reset()
