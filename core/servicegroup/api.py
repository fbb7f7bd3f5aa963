"""The servicegroup API every service and the scheduler use.

It loads the driver ``[servicegroup] driver`` names and adds what holds for every
driver: a ``forced_down`` service is down whatever the driver says, and
``service_down_time`` is kept above ``report_interval`` (see
:func:`nubis.core.conf.check.fix_service_down_time`).
"""

from __future__ import annotations

import datetime
from typing import Any

from oslo_config import cfg

from nubis.core import plugins
from nubis.core.conf.check import fix_service_down_time
from nubis.core.servicegroup.driver import ServiceGroupDriver


class API:
    """Membership queries and the join of a running service."""

    def __init__(self, conf: cfg.ConfigOpts | None = None) -> None:
        self.conf = conf or cfg.CONF
        fix_service_down_time(self.conf)
        driver_cls = plugins.load_one(
            "nubis.servicegroup", self.conf.servicegroup.driver, "[servicegroup] driver"
        )
        self.driver: ServiceGroupDriver = driver_cls(self.conf)

    def join(self, member: str, group: str, service: Any = None) -> None:
        """Start reporting *member* of *group* as alive."""
        self.driver.join(member, group, service)

    def leave(self, member: str, group: str, service: Any = None) -> None:
        """Stop reporting *member* and release the driver."""
        self.driver.leave(member, group, service)
        self.driver.cleanup()

    def cleanup(self) -> None:
        """Release the driver's connections (a process that only queried membership)."""
        self.driver.cleanup()

    def is_up(self, service_ref: Any) -> bool:
        """Return whether the service is up; a forced-down service never is."""
        if service_ref.forced_down:
            return False
        return self.driver.is_up(service_ref)

    def get_all(self, group: str) -> list[str]:
        """Return the hosts of *group* that are up (forced-down ones excluded)."""
        from nubis.core.context import get_admin_context
        from nubis.core.objects.service import ServiceList

        up = set(self.driver.get_all(group))
        if not up:
            return []
        forced = ServiceList.get_hosts_by_topic(get_admin_context(), group, forced_down=True)
        return sorted(up.difference(forced))

    def get_updated_time(self, service_ref: Any) -> datetime.datetime | None:
        """Return when the service last showed it was alive."""
        return self.driver.get_updated_time(service_ref)
