"""The nodes of a compute host: one resource tracker per hypervisor node.

:class:`NodeTrackers` makes each node's :class:`~.resource_tracker.ResourceTracker` on
first use (the first audit, claim or live-migration check of the node) and drops it
when the node's record is deleted. The builds and the live migrations claim through
it; the resource audit, through the manager's ``audit_node``.
"""

from __future__ import annotations

import threading
from typing import Any

from nubis.core import exception
from nubis.plugins.managers.compute.operations import ManagerView
from nubis.plugins.managers.compute.resource_tracker import DEFAULT_LOCK_TIMEOUT, ResourceTracker


class NodeTrackers:
    """The resource trackers of the nodes of the manager seen through *view*."""

    def __init__(self, view: ManagerView) -> None:
        self._view = view
        self._trackers: dict[str, ResourceTracker] = {}
        self._lock = threading.Lock()

    def get(self, nodename: str) -> ResourceTracker:
        """The resource tracker of node *nodename* (created on first use)."""
        with self._lock:
            rt = self._trackers.get(nodename)
            if rt is None:
                rt = ResourceTracker(
                    self._view.host, self._view.driver, nodename, DEFAULT_LOCK_TIMEOUT
                )
                self._trackers[nodename] = rt
            return rt

    def drop(self, nodename: str) -> None:
        """Forget node *nodename*'s tracker (its record is gone)."""
        with self._lock:
            self._trackers.pop(nodename, None)

    def snapshot(self) -> dict[str, ResourceTracker]:
        """The tracker of each node used so far, by node name (a copy)."""
        with self._lock:
            return dict(self._trackers)

    def in_flight(self) -> set[str]:
        """The instances a build or an incoming live migration has claimed on a node."""
        result: set[str] = set()
        for rt in self.snapshot().values():
            result |= rt.in_flight
        return result

    def forget_instance(self, context: Any, instance_uuid: str) -> None:
        """Stop counting *instance_uuid* on every node of this host."""
        for rt in self.snapshot().values():
            if instance_uuid in rt.tracked:
                rt.remove_instance(context, instance_uuid)

    def default_node(self) -> str:
        """The node a build or an arriving live migration lands on when none is named."""
        nodes = self._view.driver.get_available_nodes()
        if not nodes:
            raise exception.ComputeHostNotFound(host=self._view.host)
        return str(nodes[0])
