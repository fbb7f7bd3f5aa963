"""The bookkeeping around every instance operation of the compute manager.

:class:`Operations` holds what each operation does besides its own work: the
per-instance lock, the instance action and its event (named like Nova's,
``compute_stop_instance``), the InstanceFault of a failure, and the revert of
``task_state`` when a cast fails. :meth:`Operations.operation` wraps an operation's
body in all of that (the rules are in :mod:`.manager`'s docstring, "Operations").

:class:`ManagerView` is all the pieces of the manager (:mod:`.lifecycle`,
:mod:`.live_migration`, :mod:`.nodes`) see of it: its host name, configuration,
driver and compute RPC client. They read these through the view at each use because
``init_host`` may load the driver after they are made, and SIGHUP replaces the client.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any, Protocol

import oslo_messaging as messaging

from nubis.core import exception, objects
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.compute.states import TaskState, VMState
from nubis.plugins.managers.compute.bookkeeping import PendingRecords
from nubis.plugins.managers.compute.locks import KeyedLocks

#: The logger of every piece of the compute manager: they log under the name the
#: manager's lines had before it was split into modules (log configurations name it).
LOG = logging.getLogger("nubis.plugins.managers.compute.manager")

#: Seconds an operation waits for its instance's lock (held briefly by the sync and
#: the event listener, or by another operation that slipped past the task-state guard).
INSTANCE_LOCK_TIMEOUT = 30.0

#: A save refused because another task or vm_state holds the instance.
REFUSALS = (exception.UnexpectedTaskStateError, exception.UnexpectedVMStateError)


class ManagerView(Protocol):
    """What the manager's pieces read of the manager."""

    host: str
    conf: Any
    driver: Any

    @property
    def compute_rpcapi(self) -> ComputeAPI:
        """The client this host reaches other compute hosts with."""

    @property
    def rpc_timeout(self) -> float:
        """Seconds every RPC call made while holding something waits at most."""


class Operations:
    """Records and locks around the operations on the instances of compute host *host*."""

    def __init__(self, host: str, locks: KeyedLocks, pending: PendingRecords | None = None) -> None:
        self.host = host
        self.locks = locks
        self.pending = pending

    # --- actions, events, faults -------------------------------------------------------

    def event_start(self, context: Any, instance_uuid: str, event: str, action: str) -> None:
        try:
            try:
                objects.InstanceActionEvent.event_start(
                    context, instance_uuid, event, host=self.host
                )
            except exception.InstanceActionNotFound:
                objects.InstanceAction.action_start(context, instance_uuid, action)
                objects.InstanceActionEvent.event_start(
                    context, instance_uuid, event, host=self.host
                )
        except Exception:
            LOG.exception("recording the start of %s on %s failed", event, instance_uuid)

    def _write(self, what: str, write: Any) -> None:
        """Write a record; keep it for later when the database or conductor is away."""
        if self.pending is not None:
            self.pending.write(what, write)
            return
        try:
            write()
        except exception.InstanceNotFound:
            pass
        except Exception:
            LOG.exception("%s failed", what)

    def event_finish(
        self, context: Any, instance_uuid: str, event: str, exc: BaseException | None = None
    ) -> None:
        self._write(
            f"recording the end of {event} on {instance_uuid}",
            lambda: objects.InstanceActionEvent.event_end(context, instance_uuid, event, exc),
        )

    def event_and_action_finish(
        self, context: Any, instance_uuid: str, event: str, exc: BaseException | None = None
    ) -> None:
        """Record the end of *event* and of its action: one remotable call, one write."""

        def write() -> None:
            ended = objects.InstanceActionEvent.event_and_action_end(
                context, instance_uuid, event, exc
            )
            if ended is None:
                LOG.warning(
                    "the end of %s on %s was not recorded (its start never was); "
                    "its action was ended",
                    event,
                    instance_uuid,
                )

        self._write(f"recording the end of {event} and its action on {instance_uuid}", write)

    def record_fault(self, context: Any, instance_uuid: str, exc: BaseException) -> None:
        fault = objects.InstanceFault.from_exception(context, instance_uuid, exc, self.host)
        self._write(f"recording a fault on {instance_uuid}", fault.create)

    def revert_task_state(self, context: Any, instance: Any, vm_state: str | None) -> None:
        """End *instance*'s task after a failure, setting *vm_state* when given.

        While records wait to be written (this failure's fault among them, perhaps), this
        one waits behind them, as every record does: the instance is never seen ended
        (in ERROR, say) before its fault is recorded.
        """
        if self.pending is not None and len(self.pending):
            self._end_task_later(context, instance.uuid, vm_state, None)
            return
        try:
            instance.task_state = None
            if vm_state is not None:
                instance.vm_state = vm_state
            instance.save()
        except exception.InstanceNotFound:
            pass
        except Exception as exc:
            if self.pending is None:
                LOG.exception("reverting the task state of %s failed", instance.uuid)
                return
            self._end_task_later(context, instance.uuid, vm_state, exc)

    def _end_task_later(
        self, context: Any, uuid: str, vm_state: str | None, cause: BaseException | None
    ) -> None:
        self._write(
            f"reverting the task state of {uuid}",
            lambda: end_task(context, uuid, vm_state, cause),
        )

    # --- the operation -----------------------------------------------------------------

    @contextlib.contextmanager
    def operation(
        self,
        context: Any,
        instance: Any,
        event: str,
        action: str,
        *,
        error_vm_state: str | None = None,
        call: bool = False,
        lock: bool = True,
        reraise: tuple[type[BaseException], ...] = (),
    ) -> Iterator[None]:
        """Bookkeeping around one operation on *instance* (see :mod:`.manager`).

        A cast operation (*call* False) records what went wrong and returns: there is
        no caller to raise to. A step of a call (*call* True, e.g. a live-migration
        check) re-raises to its caller (nubis exceptions as expected ones, so the
        server logs no traceback for them), records no fault, reverts nothing (the
        instance belongs to the caller's operation) and leaves the action open. An
        exception of a *reraise* type is recorded on the event and re-raised with the
        action left open, for the caller to carry on (a reschedule).
        """
        held = (
            self.locks.hold(instance.uuid, event, INSTANCE_LOCK_TIMEOUT)
            if lock
            else contextlib.nullcontext()
        )
        with held:
            self.event_start(context, instance.uuid, event, action)
            try:
                yield
            except reraise as exc:
                self.event_finish(context, instance.uuid, event, exc)
                raise
            except REFUSALS as exc:
                LOG.warning(
                    "%s of instance %s refused: %s", event, instance.uuid, exception.one_line(exc)
                )
                if call:
                    self.event_finish(context, instance.uuid, event, exc)
                    raise messaging.ExpectedException() from exc
                self.event_and_action_finish(context, instance.uuid, event, exc)
            except Exception as exc:
                expected = isinstance(exc, exception.NubisException)
                if call:
                    self.event_finish(context, instance.uuid, event, exc)
                    if expected:  # the caller handles it; no traceback in this log
                        raise messaging.ExpectedException() from exc
                    raise
                # A cast has no caller to raise to: the fault, the event and this log
                # line are the record (with the traceback when it is not one of ours).
                (LOG.error if expected else LOG.exception)(
                    "%s of instance %s failed: %s", event, instance.uuid, exception.one_line(exc)
                )
                self.record_fault(context, instance.uuid, exc)
                self.revert_task_state(context, instance, error_vm_state)
                self.event_and_action_finish(context, instance.uuid, event, exc)
            else:
                if call:
                    self.event_finish(context, instance.uuid, event)
                else:
                    self.event_and_action_finish(context, instance.uuid, event)


def end_task(
    context: Any, instance_uuid: str, vm_state: str | None, cause: BaseException | None = None
) -> bool:
    """End the task an instance was left in (after a failure): read it afresh and, if it
    still has a task (or is still building), clear the task -- and set *vm_state* when
    given -- with a compare-and-swap on the task read, so an operation that took the
    instance since is left alone. Returns whether anything changed. Raises
    InstanceNotFound or the refusal when it no longer applies."""
    instance = objects.Instance.get_by_uuid(context, instance_uuid)
    if instance.task_state is None and instance.vm_state != VMState.BUILDING:
        return False
    if instance.task_state == TaskState.DELETING:
        return False
    previous = instance.task_state
    instance.task_state = None
    if vm_state is not None:
        instance.vm_state = vm_state
    elif instance.vm_state == VMState.BUILDING:
        instance.vm_state = VMState.ERROR
    instance.save(expected_task_state=[previous])
    LOG.info(
        "instance %s: task %s ended late%s",
        instance_uuid,
        previous,
        f" ({exception.one_line(cause)})" if cause is not None else "",
    )
    return True
