"""Shelve, shelveOffload and unshelve: the compute manager's side (Nova's
``shelve_instance``, ``shelve_offload_instance`` and ``unshelve_instance``).

:class:`Shelves` carries them out for :class:`~.manager.ComputeManager`, whose RPC
methods of the same names hand them over, each inside
:meth:`.operations.Operations.operation` (events ``compute_shelve_instance``,
``compute_shelve_offload_instance``, ``compute_unshelve_instance``).

Shelve
    Claim the instance from task ``shelving`` (the compute API set it), power the guest
    off (asking it first with *clean_shutdown*), write its snapshot as the image the API
    created (:meth:`.snapshots.Snapshots.take`; the steps are ``shelving_image_pending_
    upload`` and ``shelving_image_uploading``), record ``shelved_at``,
    ``shelved_image_id`` and ``shelved_host`` in ``system_metadata`` and mark the
    instance ``shelved``. With ``[DEFAULT] shelved_offload_time`` 0 it is offloaded
    at once, in the same operation. A failure deletes the image, records a fault and
    clears the task; the guest stays off (the power-state sync then records the
    instance stopped), as in Nova.

Offload
    From ``shelved`` (task ``shelving_offloading``, or none when the
    ``offload_shelved_instances`` periodic task asks): the guest is destroyed with its
    disks, the node's tracker stops counting it, and the instance becomes
    ``shelved_offloaded`` with no host or node.

Unshelve
    A ``shelved`` instance (its guest still here) is powered on; a
    ``shelved_offloaded`` one claims the node's resources like a build (task
    ``spawning``) and is spawned from its shelved image -- ``image_ref`` names that image
    during the spawn only, as in Nova, and the driver makes a root disk that does not
    depend on the image's file. Either way it ends ``active``, the shelved keys leave
    ``system_metadata`` and the shelved image is deleted (record and file). A failed
    spawn removes the half-made guest, gives the claim back and leaves the instance
    ``shelved_offloaded`` with no host, a fault and no task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oslo_utils import timeutils

from nubis.core import exception
from nubis.core.compute.power_sync import hypervisor_power_state
from nubis.core.compute.states import (
    SNAPSHOTTABLE_VM_STATES,
    InstanceActionName,
    TaskState,
    VMState,
)
from nubis.core.virt import driver as virt_driver
from nubis.core.virt import power_state
from nubis.plugins.managers.compute.lifecycle import SHUTDOWN_RETRY_INTERVAL
from nubis.plugins.managers.compute.nodes import NodeTrackers
from nubis.plugins.managers.compute.operations import LOG, ManagerView, Operations
from nubis.plugins.managers.compute.snapshots import ImageGone, Snapshots

EVENT_SHELVE = "compute_shelve_instance"
EVENT_OFFLOAD = "compute_shelve_offload_instance"
EVENT_UNSHELVE = "compute_unshelve_instance"

#: ``system_metadata`` keys of a shelved instance (Nova's).
SHELVED_AT = "shelved_at"
SHELVED_IMAGE_ID = "shelved_image_id"
SHELVED_HOST = "shelved_host"
SHELVED_KEYS = (SHELVED_AT, SHELVED_IMAGE_ID, SHELVED_HOST)

#: The driver's snapshot steps as the task states of a shelve.
SHELVE_STEPS: Mapping[str, str] = {
    virt_driver.SNAPSHOT_PENDING_UPLOAD: TaskState.SHELVING_IMAGE_PENDING_UPLOAD,
    virt_driver.SNAPSHOT_UPLOADING: TaskState.SHELVING_IMAGE_UPLOADING,
}


class Shelves:
    """Shelves, offloads and unshelves the instances of the manager in *view*."""

    def __init__(
        self, view: ManagerView, ops: Operations, nodes: NodeTrackers, snapshots: Snapshots
    ) -> None:
        self._view = view
        self._ops = ops
        self._nodes = nodes
        self._snapshots = snapshots

    @property
    def _driver(self) -> Any:
        return self._view.driver

    def _timeout(self, clean_shutdown: bool) -> int:
        return int(self._view.conf.compute.shutdown_timeout) if clean_shutdown else 0

    # --- shelve ----------------------------------------------------------------------------

    def shelve_instance(
        self, context: Any, instance: Any, image_id: str | None, clean_shutdown: bool
    ) -> None:
        """See ComputeManager.shelve_instance."""
        with self._ops.operation(context, instance, EVENT_SHELVE, InstanceActionName.SHELVE):
            instance.task_state = TaskState.SHELVING
            instance.save(
                expected_task_state=[TaskState.SHELVING],
                expected_vm_state=list(SNAPSHOTTABLE_VM_STATES),
            )
            self._driver.power_off(instance, self._timeout(clean_shutdown), SHUTDOWN_RETRY_INTERVAL)
            last = TaskState.SHELVING
            if image_id:
                try:
                    self._snapshots.take(
                        context,
                        instance,
                        image_id,
                        TaskState.SHELVING,
                        TaskState.SHELVING,
                        SHELVE_STEPS,
                    )
                except ImageGone as gone:
                    raise exception.ImageNotFound(image_id=image_id) from gone
                last = TaskState.SHELVING_IMAGE_UPLOADING
            metadata = dict(instance.system_metadata or {})
            metadata[SHELVED_AT] = timeutils.utcnow().isoformat()
            metadata[SHELVED_IMAGE_ID] = image_id or ""
            metadata[SHELVED_HOST] = self._view.host
            instance.system_metadata = metadata
            instance.power_state = hypervisor_power_state(self._driver, instance)
            instance.vm_state = VMState.SHELVED
            offload_now = int(self._view.conf.shelved_offload_time) == 0
            instance.task_state = TaskState.SHELVING_OFFLOADING if offload_now else None
            instance.save(expected_task_state=[last])
            LOG.info(
                "instance %s shelved on %s (image %s)", instance.uuid, self._view.host, image_id
            )
            if offload_now:
                self._offload(context, instance, clean_shutdown=False)

    # --- offload ---------------------------------------------------------------------------

    def shelve_offload_instance(self, context: Any, instance: Any, clean_shutdown: bool) -> None:
        """See ComputeManager.shelve_offload_instance; also the periodic task's offload
        (from no task)."""
        with self._ops.operation(
            context, instance, EVENT_OFFLOAD, InstanceActionName.SHELVE_OFFLOAD
        ):
            instance.task_state = TaskState.SHELVING_OFFLOADING
            instance.save(
                expected_task_state=[TaskState.SHELVING_OFFLOADING, None],
                expected_vm_state=[VMState.SHELVED],
            )
            self._offload(context, instance, clean_shutdown)

    def _offload(self, context: Any, instance: Any, clean_shutdown: bool) -> None:
        """Remove the shelved instance's guest and release what it held here."""
        if self._driver.instance_exists(instance):
            self._driver.power_off(instance, self._timeout(clean_shutdown), SHUTDOWN_RETRY_INTERVAL)
        self._driver.destroy(context, instance, destroy_disks=True)
        instance.power_state = power_state.NOSTATE
        instance.vm_state = VMState.SHELVED_OFFLOADED
        instance.task_state = None
        instance.host = None
        instance.node = None
        instance.save(expected_task_state=[TaskState.SHELVING_OFFLOADING])
        self._nodes.forget_instance(context, instance.uuid)
        LOG.info("shelved instance %s offloaded from %s", instance.uuid, self._view.host)

    # --- unshelve --------------------------------------------------------------------------

    def unshelve_instance(
        self, context: Any, instance: Any, node: str | None, request_spec: Any
    ) -> None:
        """See ComputeManager.unshelve_instance."""
        with self._ops.operation(context, instance, EVENT_UNSHELVE, InstanceActionName.UNSHELVE):
            if instance.vm_state == VMState.SHELVED:
                instance.task_state = TaskState.UNSHELVING
                instance.save(
                    expected_task_state=[TaskState.UNSHELVING],
                    expected_vm_state=[VMState.SHELVED],
                )
                self._driver.power_on(context, instance)
                self._finish(context, instance, TaskState.UNSHELVING)
            else:
                self._spawn(context, instance, node)

    def _spawn(self, context: Any, instance: Any, node: str | None) -> None:
        """Spawn an offloaded instance here from its shelved image."""
        nodename = node or self._nodes.default_node()
        shelved_image = (instance.system_metadata or {}).get(SHELVED_IMAGE_ID) or ""
        original = instance.image_ref
        with self._nodes.get(nodename).instance_claim(context, instance):
            instance.task_state = TaskState.SPAWNING
            instance.save(
                expected_task_state=[TaskState.UNSHELVING],
                expected_vm_state=[VMState.SHELVED_OFFLOADED],
            )
            if shelved_image:
                instance.image_ref = shelved_image
            try:
                self._driver.spawn(context, instance)
            except Exception:
                instance.image_ref = original
                try:
                    self._driver.destroy(context, instance, destroy_disks=True)
                except Exception:
                    LOG.exception("removing the failed guest of %s failed", instance.uuid)
                raise
            instance.image_ref = original
        instance.launched_at = timeutils.utcnow()
        self._finish(context, instance, TaskState.SPAWNING)

    def _finish(self, context: Any, instance: Any, task: str) -> None:
        """The guest runs here: the instance is active, its shelved image deleted."""
        metadata = dict(instance.system_metadata or {})
        image_id = metadata.get(SHELVED_IMAGE_ID)
        for key in SHELVED_KEYS:
            metadata.pop(key, None)
        instance.system_metadata = metadata
        instance.power_state = hypervisor_power_state(self._driver, instance)
        instance.vm_state = VMState.ACTIVE
        instance.task_state = None
        instance.save(expected_task_state=[task])
        if image_id:
            self._snapshots.discard_image(context, image_id)
        LOG.info("instance %s unshelved on %s", instance.uuid, self._view.host)
