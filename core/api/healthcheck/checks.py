"""nubis's health checks, as oslo.middleware healthcheck plugins.

Entry points of namespace ``oslo.middleware.healthcheck`` (named in ``[healthcheck]
backends``):

* ``nubis_database`` (:class:`DatabaseCheck`): ``SELECT 1`` on ``[database]
  connection``, through the engine and pool every request of nubis-api uses;
* ``nubis_bus`` (:class:`BusCheck`): one new connection to the broker of
  ``transport_url``, tried once (:func:`nubis.core.rpc.probe.check_bus`). A connection
  rather than an RPC call: nubis-api serves no RPC topic it could call itself, and a
  call to another service would make nubis-api's health depend on that service's;
* ``nubis_membership`` (:class:`MembershipCheck`): one query of the ``[servicegroup]
  driver`` for a member that does not exist, then the driver's own verdict on its
  backend (:meth:`~nubis.core.servicegroup.driver.ServiceGroupDriver.unreachable`). The
  ``db`` driver's backend is the database, which ``nubis_database`` checks.

Contract of every check (:class:`NubisCheck`):

* ``healthcheck()`` returns within ``[healthcheck] check_timeout`` seconds, whatever the
  backend does: the probe runs in a thread of its own, and a probe still running when
  that time is up is reported as ``<check>: no answer within N s``.
* One probe at a time per check: a request that comes while a probe is running (even
  one an earlier request gave up on) waits for that probe instead of starting another,
  so a backend that hangs costs one thread per check, not one per request.
* A failure's reason is ``<check>: unreachable`` or ``<check>: no answer within N s``
  (``database``, ``bus``, ``membership``): the answer goes to whoever asks, without
  authentication, so it names no address and quotes no error. What failed and how
  (the URL, passwords masked, and the error's first line) is the result's details,
  shown only when ``[healthcheck] detailed`` is on, and the log line. A pass is ``OK``
  with what was probed as the details.
* The first failure is logged once as an error with those details, and the first pass
  after it once as an info line
  (:class:`~nubis.core.servicegroup.reachability.Reachability`).
"""

from __future__ import annotations

import abc
import concurrent.futures
import logging
import threading
import time
from typing import Any, ClassVar

from oslo_config import cfg
from oslo_middleware.healthcheck import pluginbase

from nubis.core import exception
from nubis.core.conf import healthcheck as healthcheck_conf
from nubis.core.conf.masking import mask, mask_url
from nubis.core.rpc import probe as rpc_probe
from nubis.core.servicegroup.reachability import Reachability

LOG = logging.getLogger(__name__)

#: Host and group of the member the membership check asks about; no service has them.
PROBE_MEMBER = "nubis-healthcheck"


class CheckFailed(Exception):
    """Raised by :meth:`NubisCheck.probe`; ``str()`` says what failed and how, one line
    (the result's details and the log line, never the public reason)."""


class NubisCheck(pluginbase.HealthcheckBaseExtension):
    """Base of nubis's checks (see the module docstring).

    Subclasses set :attr:`name` and implement :meth:`probe`. oslo.middleware constructs
    them as ``Check(oslo_conf, conf)`` with the configuration of nubis-api.
    """

    #: The first word of every failure's reason.
    name: ClassVar[str]

    def __init__(self, oslo_conf: cfg.ConfigOpts, conf: dict[str, Any]) -> None:
        super().__init__(oslo_conf, conf)
        healthcheck_conf.register_opts(oslo_conf)
        self._lock = threading.Lock()
        self._running: concurrent.futures.Future[str] | None = None
        self._state = Reachability(
            f"{self.name} (health check)", "nubis-api's /healthcheck answers 503", LOG
        )

    @abc.abstractmethod
    def probe(self) -> str:
        """Probe the backend once; return what was probed (one line) or raise.

        May block: :meth:`healthcheck` bounds the wait. Raise :class:`CheckFailed`, or
        let the library's exception through; either way its first line (passwords
        masked) becomes the details of the failure.
        """

    def healthcheck(self, server_port: int) -> pluginbase.HealthcheckResult:
        timeout = float(self.oslo_conf.healthcheck.check_timeout)
        try:
            details = self._probe_once().result(timeout)
        except concurrent.futures.TimeoutError:
            why = f"no answer within {timeout:g} s"
            return self._failed(why, why)
        except Exception as exc:
            return self._failed("unreachable", mask(exception.one_line(exc)))
        self._state.regain()
        return pluginbase.HealthcheckResult(available=True, reason="OK", details=details)

    def _probe_once(self) -> concurrent.futures.Future[str]:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = rpc_probe.start(self.probe, f"nubis-healthcheck-{self.name}")
            return self._running

    def _failed(self, why: str, details: str) -> pluginbase.HealthcheckResult:
        self._state.lose(details)
        return pluginbase.HealthcheckResult(
            available=False, reason=f"{self.name}: {why}", details=details
        )


class DatabaseCheck(NubisCheck):
    """``nubis_database``: ``SELECT 1`` on ``[database] connection``."""

    name = "database"

    def probe(self) -> str:
        from nubis.core.db import engine

        shown = mask_url(self.oslo_conf.database.connection)
        started = time.monotonic()
        try:
            with engine.connection("the nubis_database health check", writer=False) as conn:
                conn.exec_driver_sql("SELECT 1").scalar_one()
        except Exception as exc:
            raise CheckFailed(f"{shown}: {exception.one_line(exc)}") from exc
        elapsed = (time.monotonic() - started) * 1000
        return f"SELECT 1 on {shown} answered in {elapsed:.1f} ms"


class BusCheck(NubisCheck):
    """``nubis_bus``: a new connection to the broker of ``transport_url``."""

    name = "bus"

    def probe(self) -> str:
        try:
            return rpc_probe.check_bus(self.oslo_conf)
        except Exception as exc:
            shown = mask_url(self.oslo_conf.transport_url)
            raise CheckFailed(f"the broker at {shown}: {exception.one_line(exc)}") from exc


def _probe_member() -> Any:
    """A service record that exists nowhere, for the membership driver to look up."""
    from nubis.core.objects.service import Service

    return Service(
        host=PROBE_MEMBER,
        topic=PROBE_MEMBER,
        forced_down=False,
        last_seen_up=None,
        created_at=None,
        updated_at=None,
    )


class MembershipCheck(NubisCheck):
    """``nubis_membership``: the ``[servicegroup] driver``'s backend answers.

    The driver is the process's shared one (:func:`nubis.core.servicegroup.api.acquire`),
    so the check sees the backend session nubis-api itself uses.
    """

    name = "membership"

    def probe(self) -> str:
        from nubis.core.servicegroup import api as servicegroup

        driver_name = self.oslo_conf.servicegroup.driver
        shared = servicegroup.acquire(self.oslo_conf)
        try:
            driver = shared.driver
            driver.is_up(_probe_member())
            if driver.unreachable():
                reachability = getattr(driver, "reachability", None)
                what = getattr(reachability, "what", "its backend")
                raise CheckFailed(f"{what} unreachable ([servicegroup] driver {driver_name})")
        finally:
            shared.cleanup()
        return f"[servicegroup] driver {driver_name} answered"
