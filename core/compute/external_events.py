"""What nubis does with an event another service sends about an instance
(``POST /os-server-external-events``, Nova's names).

The REST layer hands over only events it accepted: for an instance that exists and has
a compute host, with the tag the event needs. Then:

``power-update`` (tag ``POWER_ON`` or ``POWER_OFF``)
    The instance's power changed outside nubis (a bare-metal service, an operator's
    hand on the hypervisor) and the sender is the authority on it, as in Nova: the
    record takes the new state. ``POWER_OFF`` of an active instance that is running,
    with no task, makes it ``stopped`` (power state SHUTDOWN); ``POWER_ON`` of a
    stopped instance that is shut down, with no task, makes it ``active`` (RUNNING).
    The change is one compare-and-swap on the vm and task states, recorded as the
    instance action ``stop`` / ``start`` (started and finished at once). Anything
    else -- a task in progress, another state, a race lost -- leaves the instance
    alone (logged), as does an unknown tag. Nothing is sent to the compute host: the
    power-state sync (:mod:`.power_sync`) compares the new record with the guest on its
    next pass. Its own table is not used here, since for a stopped instance whose guest
    runs it keeps the database's word, and this event says the opposite.

``network-changed``, ``network-vif-plugged``, ``network-vif-unplugged``,
``network-vif-deleted``, ``volume-extended``, ``volume-reimaged``,
``accelerator-request-bound``
    nubis has no network, volume or accelerator service: its instances hold no port
    information cache to refresh, no volume attachment to resize or rebuild, no
    accelerator request, and no operation waits for such an event. The event is logged
    (instance, name, tag, status) and changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from nubis.core import exception, objects
from nubis.core.compute.states import InstanceActionName, VMState
from nubis.core.virt import power_state

LOG = logging.getLogger(__name__)

POWER_UPDATE = "power-update"
POWER_ON = "POWER_ON"
POWER_OFF = "POWER_OFF"

#: Events whose tag the sender must give (else the REST layer refuses that event).
TAG_REQUIRED = frozenset({"volume-extended", "power-update", "accelerator-request-bound"})

# Outcomes of :func:`handle` (for logs and tests).
APPLIED = "applied"
IGNORED = "ignored"
RECORDED = "logged"

#: tag -> (vm_state and power state it applies to, vm_state and power state it sets,
#: the instance action recording it)
_POWER_CHANGES = {
    POWER_OFF: (
        (VMState.ACTIVE, power_state.RUNNING),
        (VMState.STOPPED, power_state.SHUTDOWN),
        InstanceActionName.STOP,
    ),
    POWER_ON: (
        (VMState.STOPPED, power_state.SHUTDOWN),
        (VMState.ACTIVE, power_state.RUNNING),
        InstanceActionName.START,
    ),
}


def handle(context: Any, instance: Any, name: str, tag: str | None, status: str) -> str:
    """Act on event *name* (with *tag* and *status*) about *instance*, as the module
    docstring says; return :data:`APPLIED`, :data:`IGNORED` (a power update that did not
    apply) or :data:`RECORDED` (logged only). Raises what the database raises."""
    if name != POWER_UPDATE:
        LOG.info(
            "external event %s:%s (%s) for instance %s on %s: nothing in nubis uses it",
            name,
            tag,
            status,
            instance.uuid,
            instance.host,
        )
        return RECORDED
    return _power_update(context, instance, tag)


def _power_update(context: Any, instance: Any, tag: str | None) -> str:
    change = _POWER_CHANGES.get(tag or "")
    if change is None:
        LOG.warning(
            "power-update event for instance %s: unknown tag %r; ignored", instance.uuid, tag
        )
        return IGNORED
    (vm_from, power_from), (vm_to, power_to), action = change
    if (
        instance.task_state is not None
        or instance.vm_state != vm_from
        or instance.power_state != power_from
    ):
        LOG.info(
            "power-update %s for instance %s does nothing: it is %s, task %s, power %s",
            tag,
            instance.uuid,
            instance.vm_state,
            instance.task_state,
            power_state.name(instance.power_state or 0),
        )
        return IGNORED
    instance.vm_state = vm_to
    instance.power_state = power_to
    try:
        instance.save(expected_task_state=[None], expected_vm_state=[vm_from])
    except (exception.UnexpectedTaskStateError, exception.UnexpectedVMStateError) as exc:
        LOG.info(
            "power-update %s for instance %s lost a race: %s",
            tag,
            instance.uuid,
            exception.one_line(exc),
        )
        return IGNORED
    objects.InstanceAction.action_start(context, instance.uuid, action)
    objects.InstanceAction.action_finish(context, instance.uuid)
    LOG.info("power-update %s: instance %s is now %s", tag, instance.uuid, vm_to)
    return APPLIED
