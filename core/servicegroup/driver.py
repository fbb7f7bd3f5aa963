"""The contract of a servicegroup (membership) driver.

A driver answers one question — is this service up? — for the services that joined a
group (a topic). It learns liveness its own way: the ``db`` driver from state reports
saved in the service record, ``zk`` from ephemeral ZooKeeper nodes, ``mc`` from
memcached keys with a TTL. The :class:`~nubis.core.servicegroup.api.API` in front of it
handles what is common to all drivers (``forced_down``, the timing sanity check).
"""

from __future__ import annotations

import abc
import datetime
from typing import Any, ClassVar

from oslo_config import cfg


class ServiceGroupDriver(abc.ABC):
    """Base class of membership drivers. Constructed as ``Driver(conf)``."""

    #: Optional abilities this driver declares; names are checked by the conformance kit.
    capabilities: ClassVar[dict[str, bool]] = {}

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    @abc.abstractmethod
    def join(self, member: str, group: str, service: Any = None) -> None:
        """Start reporting *member* (a host) as up in *group* (a topic).

        Returns at once; reporting continues in the background until :meth:`leave`.
        Joining twice is harmless. *service* is the running
        :class:`~nubis.core.service.Service` (drivers that report through the service
        record use ``service.service_ref``).
        """

    @abc.abstractmethod
    def leave(self, member: str, group: str, service: Any = None) -> None:
        """Stop reporting *member*; it counts as down no later than service_down_time."""

    @abc.abstractmethod
    def is_up(self, service_ref: Any) -> bool:
        """Return whether the service described by *service_ref* (a Service object) is up."""

    @abc.abstractmethod
    def get_all(self, group: str) -> list[str]:
        """Return the hosts of *group* that are up, in one batched operation."""

    def get_updated_time(self, service_ref: Any) -> datetime.datetime | None:
        """Return when the service last showed it was alive (None when never)."""
        value: datetime.datetime | None = service_ref.last_seen_up
        return value

    def unreachable(self) -> bool:
        """Return whether the backend failed to answer the last request (its answers of
        "down" then say nothing about the members). The default reads the driver's
        :class:`~nubis.core.servicegroup.reachability.Reachability` ``reachability``
        attribute when it has one; a driver without a backend of its own is never
        unreachable."""
        reachability = getattr(self, "reachability", None)
        return bool(reachability is not None and reachability.lost)

    def cleanup(self) -> None:  # noqa: B027 - optional hook, a no-op unless overridden
        """Release connections and threads; the driver is not used afterwards."""
