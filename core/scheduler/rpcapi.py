"""Client of the scheduler's RPC API (nubis-scheduler, topic ``[scheduler] topic``).

Version history:

* 1.0 - select_destinations
"""

from __future__ import annotations

from typing import Any

from nubis.core import binaries
from nubis.core.rpc.client import RPCAPIClient


class SchedulerAPI(RPCAPIClient):
    """Asks any scheduler on the topic where to place instances."""

    RPC_API = "scheduler"
    BINARY = binaries.SCHEDULER
    TOPIC_OPTION = ("scheduler", "topic")
    VERSION = "1.0"

    def select_destinations(
        self, ctxt: Any, spec: Any, ignore_hosts: list[str] | None = None, num: int = 1
    ) -> list[dict[str, str]]:
        """Return *num* destinations for RequestSpec *spec*, best first.

        Each destination is ``{"host": ..., "nodename": ...}``; hosts in
        *ignore_hosts* (added to ``spec.ignore_hosts``) are never chosen. Raises
        NoValidHost (naming the filter that eliminated the last candidates) when fewer
        than *num* instances fit.
        """
        cctxt = self.client.prepare(version="1.0")
        result: list[dict[str, str]] = cctxt.call(
            ctxt, "select_destinations", spec=spec, ignore_hosts=list(ignore_hosts or []),
            num=num,
        )
        return result
