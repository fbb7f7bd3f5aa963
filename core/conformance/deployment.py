"""An embedded deployment: real services in this process, for suites and tests.

:func:`embedded` gives a fresh SQLite database, an ``inproc://`` transport and topics
of its own, the ``local`` indirection, the ``db`` servicegroup driver, periodic tasks
off (suites run them by hand), and nubis-compute on the in-tree ``fake`` virt driver.
:meth:`Embedded.start` starts a service of it (any manager plugin) and stops it when
the deployment ends; :meth:`Embedded.route_through_conductor` makes the services started
after it reach the database through the conductor, as nubis-compute does. Options set
with the same *flags* after entering apply to the services started after them.

This is the one in-process deployment builder: nubis's own functional tests build their
clouds on it (tests/fixtures/inproc_cloud.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nubis.core.conformance import harness

#: The database file of an embedded deployment, in its directory.
DATABASE_FILE = "nubis.sqlite"


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

    def __init__(self, tag: str, flags: Callable[..., None]) -> None:
        self.tag = tag
        self.services: list[Any] = []
        self._flags = flags

    def start(self, service: str, manager: Any = None, host: str | None = None) -> Any:
        """Start service *service* (e.g. ``compute``) with *manager* (default: configured)."""
        from nubis.core.service import Service

        svc = Service.create(service, host=host or f"{service}-{self.tag}", manager=manager)
        self.services.append(svc)
        svc.start()
        return svc

    def route_through_conductor(self) -> None:
        """Send the remotable object calls of this process to the conductor from now on.

        Start a conductor first: it keeps running them locally. Every service started
        afterwards (and the caller) then reaches the database as nubis-compute does.
        """
        from nubis.core.objects import base

        self._flags(group="indirection", api="conductor")
        base.install_indirection()

    def stop(self) -> None:
        """Stop the services, the last started first."""
        while self.services:
            self.services.pop().stop()


@contextlib.contextmanager
def embedded(
    flags: Callable[..., None], directory: Path, template: Path | None = None
) -> Iterator[Embedded]:
    """Set the deployment's options with *flags* and yield it; everything stops after.

    *flags* is ``flags(group=None, **values)`` (e.g. the ``nubis_flags`` fixture); the
    caller clears what it set. The database is created in *directory*: by running the
    migrations or, given *template* (a migrated SQLite file), as a copy of it.
    """
    from nubis.core import objects
    from nubis.core.db import engine, migration
    from nubis.core.objects import base

    conf = harness.ensure_global_conf()
    tag = uuid.uuid4().hex[:8]
    database = directory / DATABASE_FILE
    flags(
        transport_url=f"inproc:///embedded-{tag}",
        report_interval=60,
        periodic_enable=False,
        graceful_shutdown_timeout=5,
    )
    flags(group="database", connection=f"sqlite:///{database}")
    flags(group="indirection", api="local")
    flags(group="servicegroup", driver="db")
    for group in service_groups(conf):
        flags(group=group, topic=f"{group}-{tag}")
    flags(group="compute", virt_driver="fake")
    objects.register_all()
    if template is None:
        migration.db_sync()
    else:
        shutil.copyfile(template, database)
        os.chmod(database, 0o600)  # private, as nubis creates its own database file
    base.install_indirection()
    deployment = Embedded(tag, flags)
    try:
        yield deployment
    finally:
        deployment.stop()
        base.set_indirection_api(None)
        engine.reset()
