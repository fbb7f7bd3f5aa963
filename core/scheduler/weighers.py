"""The weigher interface (namespace ``nubis.scheduler.weighers``).

A weigher scores each host that passed the filters; the scheduler normalises every
weigher's raw scores to 0..1 across the candidate hosts (min-max, as Nova does),
multiplies them by the weigher's :attr:`BaseHostWeigher.multiplier` and sums them per
host. The host with the highest total wins; ties keep the candidates' order.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from nubis.core.scheduler.host_state import HostState


class BaseHostWeigher(abc.ABC):
    """Base class of every weigher plugin.

    Instantiated once per scheduler with the configuration object (``Weigher(conf)``);
    safe to call from several threads at once.

    ``spec_fields``: the RequestSpec fields :meth:`weigh` reads, or None (the default)
    when the weigher does not say; as for filters
    (:attr:`nubis.core.scheduler.filters.BaseHostFilter.spec_fields`), declaring them
    lets the scheduler keep a node's raw weight until the node changes. The
    :attr:`multiplier` is read at every request.
    """

    spec_fields: tuple[str, ...] | None = None

    def __init__(self, conf: Any) -> None:
        self.conf = conf

    @property
    def name(self) -> str:
        """The name the weigher is reported under (its class name unless overridden)."""
        return type(self).__name__

    @property
    def multiplier(self) -> float:
        """Factor applied to the normalised weight; negative turns spreading into
        stacking. Override to read it from configuration; the default is 1.0."""
        return 1.0

    @abc.abstractmethod
    def weigh(self, host_state: HostState, spec: Any) -> float:
        """Return the raw weight of *host_state* for RequestSpec *spec* (higher wins).

        Must not change its arguments and must not block.
        """

    def weigh_all(self, hosts: Sequence[HostState], spec: Any) -> list[float]:
        """The raw weights of *hosts*, in their order; override only to do better than a
        loop (e.g. read the request once rather than once per host, or answer at once
        for a request the weigher does not apply to). Must give what :meth:`weigh`
        gives for each host."""
        weigh = self.weigh
        return [weigh(host, spec) for host in hosts]


def normalize(weights: Sequence[float]) -> list[float]:
    """Scale *weights* to 0..1 (min-max); all zeros when they are all equal."""
    if not weights:
        return []
    low = min(weights)
    high = max(weights)
    if high == low:
        return [0.0] * len(weights)
    span = high - low
    return [(w - low) / span for w in weights]
