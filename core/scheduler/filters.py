"""The filter interface (namespace ``nubis.scheduler.filters``).

A filter decides, host by host, whether a node can take one instance of a request.
The scheduler runs the filters named by ``[scheduler] enabled_filters`` in that order;
a host any filter rejects is out. When no host is left, ``NoValidHost`` names the
filter that eliminated the last candidates.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from typing import Any

from nubis.core.scheduler.host_state import HostState


class BaseHostFilter(abc.ABC):
    """Base class of every filter plugin.

    A filter is instantiated once per scheduler with the configuration object
    (``Filter(conf)``) and must be safe to call from several threads at once: it keeps
    no per-request state on ``self``.

    ``run_filter_once_per_request``: when True the scheduler may run the filter for the
    first instance of a multi-instance request only (for filters whose answer cannot
    change as the request's instances are placed, e.g. hypervisor type).

    ``spec_fields``: the RequestSpec fields :meth:`host_passes` reads, or None (the
    default) when the filter does not say. When every enabled filter and weigher says,
    the scheduler keeps each node's verdict between requests whose specs agree on all
    declared fields and asks again only for nodes whose state changed since (a
    node's report, liveness, or an instance placed there), so a request costs in
    proportion to what changed rather than to the number of nodes. A filter that
    declares fields must answer from those fields, the host state and configuration
    alone; configuration changes apply at the scheduler's reset (SIGHUP).
    """

    run_filter_once_per_request: bool = False
    spec_fields: tuple[str, ...] | None = None

    def __init__(self, conf: Any) -> None:
        self.conf = conf

    @property
    def name(self) -> str:
        """The name the filter is reported under (its class name unless overridden)."""
        return type(self).__name__

    @abc.abstractmethod
    def host_passes(self, host_state: HostState, spec: Any) -> bool:
        """Return True when *host_state* can take one instance of RequestSpec *spec*.

        Must not change *host_state* or *spec*, and must not block: everything it
        needs is on the two arguments or in configuration.
        """

    def filter_all(self, hosts: Iterable[HostState], spec: Any) -> Iterator[HostState]:
        """Yield the hosts of *hosts* that pass, in the order given; override only to do
        better than a loop (e.g. read the request once rather than once per host)."""
        passes = self.host_passes
        return (host for host in hosts if passes(host, spec))
