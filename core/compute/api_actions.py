"""The compute API's rebuild and console output (:class:`~.api.API` hands them over).

Both go to the instance's compute host and need more than a claim and a cast:

* :func:`rebuild` sets the instance's new image and the fields the request changes in
  the same compare-and-swap that claims it (task ``rebuilding``), then casts to the
  conductor's ``compute_task`` API, which sends it on to the host. When the bus does
  not take the cast the claim is released and the fields are put back: the client was
  told the request failed, so nothing of it stays.
* :func:`console_output` is a call to the host, bounded by ``rpc_response_timeout`` and
  not made at all when the host's compute service is down.

Both refuse at once (ServiceTooOld, HTTP 409) when ``[upgrade_levels]`` -- or, with
``auto``, an older service still running -- caps the RPC APIs below the version that
brought them: there is nothing to degrade to.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import oslo_messaging as messaging

from nubis.core import exception
from nubis.core.compute import instance_lock
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.compute.states import (
    REBUILDABLE_VM_STATES,
    InstanceActionName,
    TaskState,
    VMState,
)
from nubis.core.conductor.rpcapi import ComputeTaskAPI

if TYPE_CHECKING:
    from nubis.core.compute.api import API

LOG = logging.getLogger("nubis.core.compute.api")


def rebuild(
    api: API,
    context: Any,
    instance: Any,
    image_ref: str | None,
    preserve_ephemeral: bool,
    changes: dict[str, Any],
) -> None:
    """Rebuild *instance* in place on its host from image *image_ref* (None: no disk),
    setting the instance fields in *changes* (``display_name``, ``user_metadata``,
    ``description``, ``key_name``/``key_data``, ``access_ip_v4``/``v6``) with the claim.

    Raises InstanceIsLocked (409) when it is locked and the caller is no administrator;
    InstanceInvalidState (409) unless it is active, stopped or in error with no task;
    InstanceNotReady (409) when it has no host; ServiceTooOld (409) when an older
    conductor or compute host could not take it; ServiceUnavailable (503) when its
    compute service is down or the bus did not take the request -- then nothing was
    changed.
    """
    instance_lock.check_unlocked(context, instance)
    api._check_state(instance, "rebuild", REBUILDABLE_VM_STATES, (None,))
    if not instance.host:
        raise exception.InstanceNotReady(
            instance_id=instance.uuid, reason="it has no compute host (it was never built)"
        )
    _require(api.compute_task_api, ComputeTaskAPI.REBUILD_VERSION, "rebuild")
    _require(api.compute_rpcapi, ComputeAPI.REBUILD_VERSION, "rebuild")
    _require_host_up(api, context, instance)
    original = {name: getattr(instance, name) for name in (*changes, "image_ref", "progress")}
    orig_image_ref = instance.image_ref
    for name, value in changes.items():
        setattr(instance, name, value)
    instance.image_ref = image_ref
    instance.progress = 0
    api._claim(
        context,
        instance,
        "rebuild",
        InstanceActionName.REBUILD,
        TaskState.REBUILDING,
        vm_states=REBUILDABLE_VM_STATES,
    )
    try:
        api._cast_or_release(
            context,
            instance,
            TaskState.REBUILDING,
            None,
            lambda: api.compute_task_api.rebuild_instance(
                context,
                instance,
                image_ref=image_ref,
                orig_image_ref=orig_image_ref,
                preserve_ephemeral=preserve_ephemeral,
            ),
        )
    except exception.ServiceUnavailable:
        for name, value in original.items():  # not acknowledged: as it was
            setattr(instance, name, value)
        try:
            instance.save(expected_task_state=[None])
        except Exception as exc:
            LOG.warning(
                "could not restore instance %s after a failed rebuild request: %s",
                instance.uuid,
                exception.one_line(exc),
            )
        raise


def console_output(api: API, context: Any, instance: Any, tail_length: int | None) -> str:
    """Return the last *tail_length* lines of *instance*'s console output (None or a
    negative number: all its host's driver keeps), asked of its compute host.

    Raises InstanceNotReady (409) while it has no host or is still building;
    ServiceTooOld (409) when its host's RPC API is too old; ServiceUnavailable (503)
    when its compute service is down or does not answer within
    ``rpc_response_timeout``; from the host, ConsoleOutputNotSupported (501) and
    InstanceNotFound (404: no guest there).
    """
    if not instance.host or instance.vm_state == VMState.BUILDING:
        raise exception.InstanceNotReady(
            instance_id=instance.uuid,
            reason="it is still building" if instance.host else "it has no compute host",
        )
    _require(api.compute_rpcapi, ComputeAPI.CONSOLE_OUTPUT_VERSION, "console output")
    _require_host_up(api, context, instance)
    timeout = float(api.conf.rpc_response_timeout)
    length = None if tail_length is None or tail_length < 0 else tail_length
    try:
        return api.compute_rpcapi.get_console_output(
            context, instance, tail_length=length, timeout=timeout
        )
    except messaging.MessagingTimeout:
        raise exception.ServiceUnavailable(
            what=f"the compute service of instance {instance.uuid}",
            reason=f"it did not answer within {timeout:g} s (rpc_response_timeout)",
        ) from None


def _require(client: Any, version: str, what: str) -> None:
    """ServiceTooOld unless *client* may send *version* (its RPC API's cap)."""
    if not client.can_send_version(version):
        raise exception.ServiceTooOld(
            what=what, rpc_api=client.RPC_API, version=version, cap=client.version_cap
        )


def _require_host_up(api: API, context: Any, instance: Any) -> None:
    """ServiceUnavailable (503) when the compute service of *instance*'s host is down:
    nothing would answer (the message names no host, as in Nova)."""
    if not api._host_is_up(context, instance.host):
        raise exception.ServiceUnavailable(
            what=f"the compute service of instance {instance.uuid}", reason="it is down"
        )
