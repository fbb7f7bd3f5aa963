"""An embedded deployment for suites that run real services in the test process.

:func:`embedded` gives a fresh SQLite database, an ``inproc://`` transport and topics
of its own, the ``local`` indirection, the ``db`` servicegroup driver, periodic tasks
off (suites run them by hand), and nubis-compute on the in-tree ``fake`` virt driver.
:meth:`Embedded.start` starts a service of it (any manager plugin) and stops it when
the deployment ends.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nubis.core.conformance import harness


def service_groups(conf: Any) -> list[str]:
    """The option groups of services: those with both ``manager`` and ``topic``."""
    groups = []
    for name in conf:
        value = conf[name]
        if hasattr(value, "keys") and "manager" in value and "topic" in value:
            groups.append(str(name))
    return sorted(groups)


class Embedded:
    """The running services of one embedded deployment."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.services: list[Any] = []

    def start(self, service: str, manager: Any = None, host: str | None = None) -> Any:
        """Start service *service* (e.g. ``compute``) with *manager* (default: configured)."""
        from nubis.core.service import Service

        svc = Service.create(service, host=host or f"{service}-{self.tag}", manager=manager)
        self.services.append(svc)
        svc.start()
        return svc

    def stop(self) -> None:
        while self.services:
            self.services.pop().stop()


@contextlib.contextmanager
def embedded(flags: Callable[..., None], directory: Path) -> Iterator[Embedded]:
    """Set the deployment's options with *flags* and yield it; everything stops after."""
    from nubis.core import objects
    from nubis.core.db import engine, migration
    from nubis.core.objects import base

    conf = harness.ensure_global_conf()
    tag = uuid.uuid4().hex[:8]
    flags(
        transport_url=f"inproc:///embedded-{tag}",
        report_interval=60,
        periodic_enable=False,
        graceful_shutdown_timeout=5,
    )
    flags(group="database", connection=f"sqlite:///{directory / 'nubis.sqlite'}")
    flags(group="indirection", api="local")
    flags(group="servicegroup", driver="db")
    for group in service_groups(conf):
        flags(group=group, topic=f"{group}-{tag}")
    flags(group="compute", virt_driver="fake")
    objects.register_all()
    migration.db_sync()
    base.install_indirection()
    deployment = Embedded(tag)
    try:
        yield deployment
    finally:
        deployment.stop()
        base.set_indirection_api(None)
        engine.reset()
