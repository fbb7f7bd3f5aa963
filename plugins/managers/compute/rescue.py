"""Rescue and unrescue: the compute manager's side.

:class:`Rescues` carries out ``rescue_instance`` and ``unrescue_instance`` for
:class:`~.manager.ComputeManager`, whose RPC methods of the same names hand them over.

Rescue (a cast; Nova's ``rescue_instance``)
    Inside :meth:`.operations.Operations.operation` (event ``compute_rescue_instance``
    on the ``rescue`` action the compute API started): claim the instance from task
    ``rescuing`` (compare-and-swap, vm_state active, stopped or error), power the guest
    off -- asking it to shut down first within ``[compute] shutdown_timeout`` when the
    caller asked for a clean shutdown -- and have the driver boot it from a rescue disk
    of the image the user named, else of the instance's own image (Nova's choice when
    the image has no other "base image"). The instance ends ``rescued`` with no task,
    its guest's power state and a new ``launched_at``, as in Nova.

Unrescue (a cast; Nova's ``unrescue_instance``)
    Event ``compute_unrescue_instance`` on the ``unrescue`` action: claim from task
    ``unrescuing`` (vm_state rescued), have the driver give the guest its own
    definition back and start it; the instance ends ``active``.

A driver without ``supports_rescue`` ends either task with a VirtOperationNotSupported
fault and the vm_state as it was (Nova's NotImplementedError), before the guest is
touched. Any other failure ends the instance in ERROR with a fault, as Nova's
``_set_instance_obj_error_state`` / ``_error_out_instance_on_exception`` do: the guest
may be off, or half-way between its two definitions. A compute service that restarts
during either ends it the same way (:meth:`.lifecycle.Lifecycle.init_instances`), and
one that never reached a host is ended by the conductor's reconciler.
"""

from __future__ import annotations

from typing import Any

from oslo_utils import timeutils

from nubis.core import exception
from nubis.core.compute.power_sync import hypervisor_power_state
from nubis.core.compute.states import (
    RESCUABLE_VM_STATES,
    InstanceActionName,
    TaskState,
    VMState,
)
from nubis.plugins.managers.compute.lifecycle import SHUTDOWN_RETRY_INTERVAL
from nubis.plugins.managers.compute.operations import LOG, ManagerView, Operations

CAPABILITY = "supports_rescue"


class Rescues:
    """Rescues and unrescues the instances of the manager in *view*."""

    def __init__(self, view: ManagerView, ops: Operations) -> None:
        self._view = view
        self._ops = ops

    def _supported(self) -> bool:
        return bool(self._view.driver.has_capability(CAPABILITY))

    def _refuse(self, verb: str) -> exception.VirtOperationNotSupported:
        return exception.VirtOperationNotSupported(
            operation=verb, driver=type(self._view.driver).__name__
        )

    def rescue_instance(
        self, context: Any, instance: Any, rescue_image_ref: str | None, clean_shutdown: bool
    ) -> None:
        """See ComputeManager.rescue_instance."""
        driver = self._view.driver
        supported = self._supported()
        with self._ops.operation(
            context,
            instance,
            "compute_rescue_instance",
            InstanceActionName.RESCUE,
            error_vm_state=VMState.ERROR if supported else None,
        ):
            instance.task_state = TaskState.RESCUING
            instance.save(
                expected_task_state=[TaskState.RESCUING],
                expected_vm_state=list(RESCUABLE_VM_STATES),
            )
            if not supported:
                raise self._refuse("rescue")
            image_ref = rescue_image_ref or instance.image_ref or ""
            timeout = int(self._view.conf.compute.shutdown_timeout) if clean_shutdown else 0
            driver.power_off(instance, timeout, SHUTDOWN_RETRY_INTERVAL)
            driver.rescue(context, instance, image_ref)
            instance.power_state = hypervisor_power_state(driver, instance)
            instance.vm_state = VMState.RESCUED
            instance.task_state = None
            instance.launched_at = timeutils.utcnow()
            instance.save(expected_task_state=[TaskState.RESCUING])
            LOG.info(
                "instance %s rescued on %s from image %s",
                instance.uuid,
                self._view.host,
                image_ref or "none",
            )

    def unrescue_instance(self, context: Any, instance: Any) -> None:
        """See ComputeManager.unrescue_instance."""
        driver = self._view.driver
        supported = self._supported()
        with self._ops.operation(
            context,
            instance,
            "compute_unrescue_instance",
            InstanceActionName.UNRESCUE,
            error_vm_state=VMState.ERROR if supported else None,
        ):
            instance.task_state = TaskState.UNRESCUING
            instance.save(
                expected_task_state=[TaskState.UNRESCUING],
                expected_vm_state=[VMState.RESCUED],
            )
            if not supported:
                raise self._refuse("unrescue")
            driver.unrescue(context, instance)
            instance.power_state = hypervisor_power_state(driver, instance)
            instance.vm_state = VMState.ACTIVE
            instance.task_state = None
            instance.save(expected_task_state=[TaskState.UNRESCUING])
            LOG.info("instance %s unrescued on %s", instance.uuid, self._view.host)
