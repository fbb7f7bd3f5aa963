"""``mc``: liveness from memcached keys with a time to live (pymemcache).

Contract:

* A joined member is the key ``<group>:<host>``; its value is the time of the last
  report (seconds since the epoch). A reporter thread per member sets it at once and
  then every ``report_interval`` seconds with a time to live of ``service_down_time``,
  so a member that stops reporting counts as down within ``service_down_time``.
  :meth:`~MemcachedDriver.is_up` is the key's existence;
  :meth:`~MemcachedDriver.get_updated_time` is the newer of the stored time and the
  database's ``last_seen_up``. Joining twice is harmless; :meth:`~MemcachedDriver.leave`
  stops the reports and deletes the key.
* :meth:`~MemcachedDriver.get_all` is one batched operation: the group's hosts from the
  database in one query (through the objects layer, so through the conductor on
  nubis-compute) and one ``get_many`` of their keys (one round trip per server).
* ``[memcache] servers``: one server is used through pymemcache's ``Client``, several
  through its ``HashClient`` (rendezvous hashing; a failing server is left out for
  ``[memcache] dead_timeout`` seconds and its keys go to the others). TCP_NODELAY is on
  (without it every request costs ~22 ms) and every request is bounded by
  ``[memcache] connect_timeout`` and ``timeout``; requests from all threads share one
  connection per server, one request at a time.
* While memcached is unreachable queries answer "down" (``is_up`` False, ``get_all``
  empty) and reports fail; the loss is logged once (error) and the return once (info),
  whichever of reports and queries notices first.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from typing import Any

from oslo_config import cfg
from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient

from nubis.core.context import get_admin_context
from nubis.core.servicegroup.driver import ServiceGroupDriver
from nubis.core.servicegroup.reachability import Reachability
from nubis.core.servicegroup.reporter import ReportLoop

LOG = logging.getLogger(__name__)


def _reporter(driver: MemcachedDriver, member: str, group: str, interval: float) -> ReportLoop:
    """The loop that refreshes one member's key every interval until stopped."""
    key = driver.key(member, group)
    return ReportLoop(
        f"nubis-mc-report-{group}",
        interval,
        lambda: bool(driver.report(key)),
        join_timeout=driver.request_timeout + 1,
    )


class MemcachedDriver(ServiceGroupDriver):
    """Membership from ``<group>:<host>`` keys that expire after service_down_time."""

    capabilities: dict[str, bool] = {}

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        mc = conf.memcache
        self.servers = [s.strip() for s in mc.servers if s.strip()]
        if not self.servers:
            raise ValueError("[memcache] servers is empty; name at least one host:port")
        self.request_timeout = float(mc.connect_timeout) + float(mc.timeout)
        options: dict[str, Any] = {
            "connect_timeout": float(mc.connect_timeout),
            "timeout": float(mc.timeout),
            "no_delay": True,
        }
        self.client: Client | HashClient
        if len(self.servers) == 1:
            self.client = Client(self.servers[0], **options)
        else:
            self.client = HashClient(
                self.servers,
                retry_attempts=1,
                retry_timeout=min(1.0, float(conf.report_interval)),
                dead_timeout=float(mc.dead_timeout),
                **options,
            )
        self.reachability = Reachability(
            f"memcached at {', '.join(self.servers)}",
            "members reporting to it count as down until it returns",
            LOG,
        )
        self._client_lock = threading.Lock()
        self._lock = threading.Lock()
        self._reporters: dict[tuple[str, str], ReportLoop] = {}

    @staticmethod
    def key(member: str, group: str) -> str:
        return f"{group}:{member}"

    def _call(self, method: str, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
        """Run one client request; return (succeeded, result) and track reachability."""
        try:
            with self._client_lock:
                result = getattr(self.client, method)(*args, **kwargs)
        except Exception as exc:  # socket errors, timeouts, server errors alike
            self.reachability.lose(f"{method}: {type(exc).__name__}: {exc}")
            return False, None
        if self._all_servers_in_use():
            self.reachability.regain()
        return True, result

    def _all_servers_in_use(self) -> bool:
        # HashClient answers from defaults, without asking, for a server it has set
        # aside after a failure: only an answer with every server in use shows recovery.
        client = self.client
        return not (
            getattr(client, "_failed_clients", None) or getattr(client, "_dead_clients", None)
        )

    # --- reporting ---------------------------------------------------------------------

    def report(self, key: str) -> bool:
        """Store the report time under *key* with a TTL of service_down_time."""
        value = f"{time.time():.6f}".encode()
        ok, stored = self._call(
            "set", key, value, expire=int(self.conf.service_down_time), noreply=False
        )
        if ok and not stored:
            # HashClient answers False without asking a server it has set aside.
            self.reachability.lose(f"set {key}: not stored")
            return False
        return ok

    def join(self, member: str, group: str, service: Any = None) -> None:
        interval = getattr(service, "report_interval", None) or self.conf.report_interval
        with self._lock:
            if (member, group) in self._reporters:
                return
            reporter = _reporter(self, member, group, float(interval))
            self._reporters[(member, group)] = reporter
        reporter.start()

    def leave(self, member: str, group: str, service: Any = None) -> None:
        with self._lock:
            reporter = self._reporters.pop((member, group), None)
        if reporter is not None:
            reporter.stop()
        self._call("delete", self.key(member, group), noreply=False)

    def reporter(self, member: str, group: str) -> ReportLoop | None:
        """Return the reporter of a joined member (for tests and diagnostics)."""
        return self._reporters.get((member, group))

    # --- queries ---------------------------------------------------------------------

    def _stored_time(self, service_ref: Any) -> tuple[bool, datetime.datetime | None]:
        """Return (key exists, stored report time) of a service; (False, None) if unknown."""
        if not service_ref.host or not service_ref.topic:
            return False, None
        ok, value = self._call("get", self.key(service_ref.host, service_ref.topic))
        if not ok or value is None:
            return False, None
        try:
            stamp = float(value)
        except ValueError:
            return True, None
        return True, datetime.datetime.fromtimestamp(stamp, tz=datetime.UTC)

    def is_up(self, service_ref: Any) -> bool:
        return self._stored_time(service_ref)[0]

    def get_all(self, group: str) -> list[str]:
        from nubis.core.objects.service import ServiceList

        hosts = ServiceList.get_hosts_by_topic(get_admin_context(), group)
        if not hosts:
            return []
        keys = {self.key(host, group): host for host in hosts}
        ok, found = self._call("get_many", list(keys))
        if not ok:
            return []
        return sorted(keys[key] for key in found if key in keys)

    def get_updated_time(self, service_ref: Any) -> datetime.datetime | None:
        """The newer of memcached's stored report time and the database's last_seen_up."""
        db_time: datetime.datetime | None = service_ref.last_seen_up
        if db_time is not None and db_time.tzinfo is None:
            db_time = db_time.replace(tzinfo=datetime.UTC)
        mc_time = self._stored_time(service_ref)[1]
        if mc_time is None or (db_time is not None and db_time > mc_time):
            return db_time
        return mc_time

    def cleanup(self) -> None:
        with self._lock:
            reporters = list(self._reporters.values())
            self._reporters.clear()
        for reporter in reporters:
            reporter.stop()
        with self._client_lock:
            try:
                self.client.close()
            except Exception as exc:
                LOG.debug("closing the memcached client: %s", exc)
