"""The default weighers (namespace ``nubis.scheduler.weighers``)."""

from __future__ import annotations

from typing import Any

from nubis.core.scheduler.host_state import HostState
from nubis.core.scheduler.weighers import BaseHostWeigher


class RamWeigher(BaseHostWeigher):
    """``ram``: more free RAM weighs more, so instances spread across nodes.

    The multiplier is ``[scheduler] ram_weight_multiplier`` (default 1.0); a negative
    one stacks instances onto the fullest nodes first.
    """

    spec_fields = ()

    @property
    def multiplier(self) -> float:
        return float(self.conf.scheduler.ram_weight_multiplier)

    def weigh(self, host_state: HostState, spec: Any) -> float:
        return float(host_state.free_ram_mb)
