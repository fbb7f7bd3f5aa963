"""The servicegroup API every service and the scheduler use.

It loads the driver ``[servicegroup] driver`` names and adds what holds for every
driver: a ``forced_down`` service is down whatever the driver says, and
``service_down_time`` is kept above ``report_interval`` (see
:func:`nubis.core.conf.check.fix_service_down_time`).

When the driver's backend (ZooKeeper, memcached, Redis) is unreachable, its drivers
answer "down" for every member. The API does not pass that on: while
:meth:`ServiceGroupDriver.unreachable` says so, :meth:`API.is_up` and
:meth:`API.get_all` answer the last state they saw, for at most ``service_down_time``
after it was seen (logged once when it starts, once when it runs out); after that,
members count as down as before. For ``[servicegroup] recovery_grace`` seconds after the
backend returns, a member seen up before the outage still counts as up while it
re-registers (a ZooKeeper session that expired during the outage loses its ephemeral
nodes until the keeper recreates them), unless that state had expired by then (seen
more than ``service_down_time`` before the backend returned): after a longer outage a
member is up again only once the driver sees it. So an outage of the membership backend
shorter than ``service_down_time`` minus the age of the state when it began changes no
decision; a process that must ride out outages while idle asks periodically (the
scheduler does, every ``report_interval``).

:func:`acquire` returns one shared API per process and configuration (one backend
session, e.g. one ZooKeeper session, however many threads ask at once); its
:meth:`API.cleanup` releases the driver when the last holder let go.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from typing import Any

from oslo_config import cfg

from nubis.core import metrics, plugins
from nubis.core.conf.check import fix_service_down_time
from nubis.core.servicegroup.driver import ServiceGroupDriver

LOG = logging.getLogger(__name__)


class API:
    """Membership queries and the join of a running service."""

    def __init__(self, conf: cfg.ConfigOpts | None = None) -> None:
        self.conf = conf or cfg.CONF
        fix_service_down_time(self.conf)
        driver_cls = plugins.load_one(
            "nubis.servicegroup", self.conf.servicegroup.driver, "[servicegroup] driver"
        )
        self.driver: ServiceGroupDriver = driver_cls(self.conf)
        self._known_lock = threading.Lock()
        # group -> (monotonic time seen, hosts up); (host, topic) -> (time seen, up)
        self._known_all: dict[str, tuple[float, frozenset[str]]] = {}
        self._known_one: dict[tuple[str, str], tuple[float, bool]] = {}
        self._outage_logged = False
        self._expired_logged = False
        self._recovered_at: float | None = None
        self._shared_key: tuple[int, str] | None = None

    # --- joining ---------------------------------------------------------------------

    def join(self, member: str, group: str, service: Any = None) -> None:
        """Start reporting *member* of *group* as alive."""
        self.driver.join(member, group, service)

    def leave(self, member: str, group: str, service: Any = None) -> None:
        """Stop reporting *member* and release the driver."""
        self.driver.leave(member, group, service)
        self.driver.cleanup()

    def cleanup(self) -> None:
        """Release the driver's connections (a process that only queried membership);
        for an API from :func:`acquire`, only when its last holder releases it."""
        if self._shared_key is not None and not _release(self):
            return
        self.driver.cleanup()

    # --- queries ---------------------------------------------------------------------

    def is_up(self, service_ref: Any) -> bool:
        """Return whether the service is up; a forced-down service never is. The answer
        is recorded in :mod:`nubis.core.metrics` (group: the service's topic)."""
        up = self._is_up(service_ref)
        metrics.servicegroup_member(str(service_ref.topic), str(service_ref.host), up)
        return up

    def _is_up(self, service_ref: Any) -> bool:
        if service_ref.forced_down:
            return False
        answer = bool(self.driver.is_up(service_ref))
        key = (str(service_ref.host), str(service_ref.topic))
        now = time.monotonic()
        with self._known_lock:
            if self._backend_unreachable():
                known = self._known_of(key)
                if known is not None and self._still_valid(known[0], now):
                    return known[1]
                return answer
            if not answer and self._in_grace(now):
                known = self._known_of(key)
                if known is not None and known[1] and self._kept_at_recovery(known[0]):
                    return True
            self._known_one[key] = (now, answer)
        return answer

    def _known_of(self, key: tuple[str, str]) -> tuple[float, bool] | None:
        """The newest state seen of member *key* by is_up or its group's get_all."""
        one = self._known_one.get(key)
        group = self._known_all.get(key[1])
        from_group = None if group is None else (group[0], key[0] in group[1])
        candidates = [k for k in (one, from_group) if k is not None]
        return max(candidates, key=lambda k: k[0]) if candidates else None

    def get_all(self, group: str) -> list[str]:
        """Return the hosts of *group* that are up (forced-down ones excluded). The
        answer is recorded in :mod:`nubis.core.metrics`: these hosts up, the others of
        the group this process knows down."""
        hosts = self._get_all(group)
        metrics.servicegroup_members(group, hosts)
        return hosts

    def _get_all(self, group: str) -> list[str]:
        from nubis.core.context import get_admin_context
        from nubis.core.objects.service import ServiceList

        up = set(self.driver.get_all(group))
        now = time.monotonic()
        with self._known_lock:
            if self._backend_unreachable():
                known = self._known_all.get(group)
                if known is not None and self._still_valid(known[0], now):
                    up = set(known[1])
            else:
                if self._in_grace(now):
                    known = self._known_all.get(group)
                    if known is not None and self._kept_at_recovery(known[0]):
                        up |= known[1]
                else:
                    self._known_all[group] = (now, frozenset(up))
        if not up:
            return []
        forced = ServiceList.get_hosts_by_topic(get_admin_context(), group, forced_down=True)
        return sorted(up.difference(forced))

    def get_updated_time(self, service_ref: Any) -> datetime.datetime | None:
        """Return when the service last showed it was alive."""
        return self.driver.get_updated_time(service_ref)

    # --- the last known state (lock held) --------------------------------------------

    def _backend_unreachable(self) -> bool:
        if self.driver.unreachable():
            if not self._outage_logged:
                self._outage_logged = True
                self._expired_logged = False
                LOG.warning(
                    "the membership backend ([servicegroup] driver = %s) is unreachable; "
                    "answering the last known state of its members for up to "
                    "service_down_time (%s s)",
                    self.conf.servicegroup.driver,
                    self.conf.service_down_time,
                )
            self._recovered_at = None
            return True
        if self._outage_logged:
            self._outage_logged = False
            self._recovered_at = time.monotonic()
            LOG.info(
                "the membership backend ([servicegroup] driver = %s) answers again",
                self.conf.servicegroup.driver,
            )
        return False

    def _still_valid(self, seen: float, now: float) -> bool:
        if now - seen <= float(self.conf.service_down_time):
            return True
        if not self._expired_logged:
            self._expired_logged = True
            LOG.error(
                "the membership backend ([servicegroup] driver = %s) has been unreachable "
                "for longer than service_down_time (%s s); its members now count as down",
                self.conf.servicegroup.driver,
                self.conf.service_down_time,
            )
        return False

    def _kept_at_recovery(self, seen: float) -> bool:
        # A state seen more than service_down_time before the backend returned had
        # expired during the outage; the grace must not bring its members back.
        return self._recovered_at is not None and (
            self._recovered_at - seen <= float(self.conf.service_down_time)
        )

    def _in_grace(self, now: float) -> bool:
        if self._recovered_at is None:
            return False
        if now - self._recovered_at <= float(self.conf.servicegroup.recovery_grace):
            return True
        self._recovered_at = None
        return False


# --- one shared API per process ------------------------------------------------------

_shared_lock = threading.Lock()
_shared: dict[tuple[int, str], tuple[API, int]] = {}


def acquire(conf: cfg.ConfigOpts | None = None) -> API:
    """The process's shared API for *conf* (one driver, one backend session); creating
    it is locked, so concurrent first callers share one. Release with ``cleanup()``."""
    conf = conf or cfg.CONF
    key = (id(conf), str(conf.servicegroup.driver))
    with _shared_lock:
        held = _shared.get(key)
        if held is not None:
            api, count = held
            _shared[key] = (api, count + 1)
            return api
        api = API(conf)
        api._shared_key = key
        _shared[key] = (api, 1)
        return api


def _release(api: API) -> bool:
    """Drop one hold of a shared *api*; True when that was the last one."""
    with _shared_lock:
        held = _shared.get(api._shared_key) if api._shared_key is not None else None
        if held is None or held[0] is not api:
            return True
        count = held[1] - 1
        if count > 0:
            _shared[api._shared_key] = (api, count)  # type: ignore[index]
            return False
        del _shared[api._shared_key]  # type: ignore[arg-type]
        return True
