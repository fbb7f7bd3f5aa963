"""What a guest takes from a node (:class:`Usage`) and a hold on it (:class:`Claim`).

The resource tracker (:mod:`.resource_tracker`) counts usages and hands out claims: a
build or an arriving live migration holds its claim until the instance is on the node
for good (settled) or the work failed (aborted). Split from the tracker so that the
value types it shares with the manager read on their own.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid as uuid_module
from collections.abc import Iterable
from typing import Any, Protocol

from nubis.core.virt import hardware

# Logged under the resource tracker's name, as before these types had a module of their own.
LOG = logging.getLogger("nubis.plugins.managers.compute.resource_tracker")

#: A stable namespace for the uuids of compute nodes (uuid5 of host and node name), so
#: a node deleted when the driver stopped reporting it comes back as the same record.
NODE_UUID_NAMESPACE = uuid_module.UUID("8a3c5d2e-7f41-4b9a-9d6e-0c1f2a3b4c5d")


def field_of(obj: Any, name: str) -> Any:
    """``obj.name``, or None when a versioned object has the field unset."""
    is_set = getattr(obj, "obj_attr_is_set", None)
    if is_set is not None and not is_set(name):
        return None
    return getattr(obj, name, None)


@dataclasses.dataclass(frozen=True)
class Usage:
    """What one guest takes from a node."""

    vcpus: int = 0
    memory_mb: int = 0
    disk_gb: int = 0

    @classmethod
    def of(cls, instance: Any) -> Usage:
        return cls(
            vcpus=int(field_of(instance, "vcpus") or 0),
            memory_mb=int(field_of(instance, "memory_mb") or 0),
            disk_gb=int(field_of(instance, "root_gb") or 0)
            + int(field_of(instance, "ephemeral_gb") or 0),
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.vcpus + other.vcpus,
            self.memory_mb + other.memory_mb,
            self.disk_gb + other.disk_gb,
        )


def total(usages: Iterable[Usage]) -> Usage:
    result = Usage()
    for usage in usages:
        result = result + usage
    return result


def node_uuid(host: str, nodename: str) -> str:
    """The uuid a ComputeNode of *host*'s node *nodename* gets."""
    return str(uuid_module.uuid5(NODE_UUID_NAMESPACE, f"{host}/{nodename}"))


def resources_of(node: Any) -> dict[str, Any]:
    """The driver-style resource dict of a ComputeNode (what the live-migration checks take)."""
    return {key: field_of(node, key) for key in hardware.RESOURCE_KEYS}


class ClaimHolder(Protocol):
    """What a claim needs of the tracker that made it."""

    nodename: str

    def close_claim(self, claim: Claim, keep: bool) -> None:
        """End *claim*: keep counting its usage (*keep*) or give it back."""


class Claim:
    """Resources held for one instance; a context manager that rolls back on error."""

    def __init__(
        self,
        tracker: ClaimHolder,
        context: Any,
        instance: Any,
        usage: Usage,
        kind: str,
        previous: dict[str, Any] | None = None,
    ) -> None:
        self.tracker = tracker
        self.context = context
        self.instance = instance
        self.usage = usage
        self.kind = kind
        self._previous = previous or {}
        self.closed = False

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.settle()
        else:
            self.abort()

    def settle(self) -> None:
        """The instance is on the node for good (its record says so): keep counting it."""
        if not self.closed:
            self.closed = True
            self.tracker.close_claim(self, keep=True)

    def abort(self) -> None:
        """Give the resources back and restore the fields the claim set on the instance."""
        if self.closed:
            return
        self.closed = True
        for name, value in self._previous.items():
            setattr(self.instance, name, value)
        try:
            self.tracker.close_claim(self, keep=False)
        except Exception:  # never hide the error that made us abort
            LOG.exception("rolling back the claim of %s failed", self.instance.uuid)
