"""The compute API's shelve, shelveOffload and unshelve (:class:`~.api.API` hands them
over), as Nova's:

* :func:`shelve` -- from ``active``, ``stopped``, ``paused`` or ``suspended`` with no
  task (and not locked): records the image ``<server name>-shelved`` (``queued``; a
  snapshot image as createImage makes, see :mod:`.api_snapshot`; none for a server
  without a root disk), claims task ``shelving`` and casts to the instance's host, which
  powers the guest off, writes the image and marks the instance ``shelved`` -- offloaded
  at once (``shelved_offloaded``, no host) when ``[DEFAULT] shelved_offload_time`` is 0;
* :func:`shelve_offload` -- from ``shelved``: task ``shelving_offloading``, cast to its
  host, which removes the guest and releases the host's resources;
* :func:`unshelve` -- from ``shelved`` or ``shelved_offloaded``: task ``unshelving``,
  cast to a conductor. A shelved instance is powered on where it is; an offloaded one is
  scheduled like a build (in *availability_zone*, or on *host*, when given) and spawned
  from its shelved image, which is then deleted.

A zone or host is only for an offloaded instance (UnshelveInstanceInvalidState, 409,
otherwise); a zone not available is Invalid (400), a host that runs no compute service
ComputeHostNotFound (400), a host outside the zone UnshelveHostNotInAZ (409). When the
claim or the cast fails, the image is deleted again and the claim released.

Deleting a shelved or offloaded server deletes its shelved image too
(:func:`delete_shelved_image`), as Nova does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from nubis.core import binaries, exception, objects
from nubis.core.compute import api_snapshot, availability_zones, instance_lock
from nubis.core.compute.api_actions import _require, _require_host_up
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.compute.states import (
    SNAPSHOTTABLE_VM_STATES,
    InstanceActionName,
    TaskState,
    VMState,
)
from nubis.core.conductor.rpcapi import ComputeTaskAPI
from nubis.core.images.store import Store
from nubis.core.objects.request_spec import RequestSpec

if TYPE_CHECKING:
    from nubis.core.compute.api import API

LOG = logging.getLogger("nubis.core.compute.api")

#: ``unshelve(availability_zone=KEEP)``: the request named no zone.
KEEP = object()


def shelve(api: API, context: Any, instance: Any, clean_shutdown: bool = True) -> Any:
    """Shelve *instance*; return the queued Image its host writes (None when the
    instance has no root disk)."""
    instance_lock.check_unlocked(context, instance)
    api._check_state(instance, "shelve", SNAPSHOTTABLE_VM_STATES, (None,))
    _require(api.compute_rpcapi, ComputeAPI.SHELVE_VERSION, "shelve")
    _require_host_up(api, context, instance)
    image = None
    if instance.image_ref:
        image = api_snapshot.create_image(
            context, instance, f"{instance.display_name}-shelved", "snapshot", {}
        )
    try:
        api._claim(
            context,
            instance,
            "shelve",
            InstanceActionName.SHELVE,
            TaskState.SHELVING,
            vm_states=SNAPSHOTTABLE_VM_STATES,
        )
        api._cast_or_release(
            context,
            instance,
            TaskState.SHELVING,
            None,
            lambda: api.compute_rpcapi.shelve_instance(
                context,
                instance,
                image.uuid if image is not None else None,
                clean_shutdown=clean_shutdown,
            ),
        )
    except Exception:
        if image is not None:
            api_snapshot.delete_image_record(image)
        raise
    LOG.info("shelve of instance %s requested", instance.uuid)
    return image


def shelve_offload(api: API, context: Any, instance: Any, clean_shutdown: bool = True) -> None:
    """Offload the shelved *instance* from its host."""
    instance_lock.check_unlocked(context, instance)
    api._check_state(instance, "shelveOffload", (VMState.SHELVED,), (None,))
    _require(api.compute_rpcapi, ComputeAPI.SHELVE_VERSION, "shelveOffload")
    _require_host_up(api, context, instance)
    api._claim(
        context,
        instance,
        "shelveOffload",
        InstanceActionName.SHELVE_OFFLOAD,
        TaskState.SHELVING_OFFLOADING,
        vm_states=(VMState.SHELVED,),
    )
    api._cast_or_release(
        context,
        instance,
        TaskState.SHELVING_OFFLOADING,
        None,
        lambda: api.compute_rpcapi.shelve_offload_instance(
            context, instance, clean_shutdown=clean_shutdown
        ),
    )


def unshelve(
    api: API,
    context: Any,
    instance: Any,
    availability_zone: Any = KEEP,
    host: str | None = None,
) -> None:
    """Unshelve *instance* (see the module docstring). *availability_zone* is a zone
    name, None to unpin the instance from its zone, or KEEP."""
    instance_lock.check_unlocked(context, instance)
    shelved = (VMState.SHELVED, VMState.SHELVED_OFFLOADED)
    api._check_state(instance, "unshelve", shelved, (None,))
    zone_given = availability_zone is not KEEP
    if instance.vm_state != VMState.SHELVED_OFFLOADED and (
        host or (zone_given and availability_zone is not None)
    ):
        raise exception.UnshelveInstanceInvalidState(
            instance_uuid=instance.uuid, state=str(instance.vm_state).upper()
        )
    _require(api.compute_task_api, ComputeTaskAPI.UNSHELVE_VERSION, "unshelve")
    _require(api.compute_rpcapi, ComputeAPI.SHELVE_VERSION, "unshelve")
    if instance.vm_state == VMState.SHELVED:
        _require_host_up(api, context, instance)
    zone = availability_zone if zone_given else instance.availability_zone
    force_hosts = _destinations(context, zone, host)
    previous_zone = instance.availability_zone
    if zone_given and instance.vm_state == VMState.SHELVED_OFFLOADED:
        instance.availability_zone = availability_zone
    spec = RequestSpec.from_instance(instance, num_instances=1, force_hosts=force_hosts)
    try:
        api._claim(
            context,
            instance,
            "unshelve",
            InstanceActionName.UNSHELVE,
            TaskState.UNSHELVING,
            vm_states=shelved,
        )
    except Exception:
        instance.availability_zone = previous_zone
        raise
    api._cast_or_release(
        context,
        instance,
        TaskState.UNSHELVING,
        None,
        lambda: api.compute_task_api.unshelve_instance(context, instance, spec),
    )
    LOG.info("unshelve of instance %s requested", instance.uuid)


def _destinations(context: Any, zone: str | None, host: str | None) -> list[str]:
    """The hosts an offloaded instance may be unshelved on (empty: any)."""
    zone_hosts = availability_zones.hosts_for_create(context, zone) if zone else []
    if not host:
        return zone_hosts
    if objects.Service.get_by_host_and_binary(context, host, binaries.COMPUTE) is None:
        raise exception.ComputeHostNotFound(host=host)
    if zone and zone_hosts and host not in zone_hosts:
        raise exception.UnshelveHostNotInAZ(host=host, availability_zone=zone)
    return [host]


def delete_shelved_image(api: API, context: Any, instance: Any) -> None:
    """On the delete of a shelved (or offloaded) *instance*, delete its shelved image,
    record and file, as Nova does -- unless an instance boots from it (its file is that
    instance's base image here). Failures are logged: the delete goes on."""
    if instance.vm_state not in (VMState.SHELVED, VMState.SHELVED_OFFLOADED):
        return
    image_id = (instance.system_metadata or {}).get("shelved_image_id")
    if not image_id:
        return
    try:
        if len(objects.InstanceList.get_all(context, filters={"image_ref": image_id}, limit=1)):
            return
        objects.Image(context, uuid=image_id).destroy()
    except exception.ImageNotFound:
        return
    except Exception as exc:
        LOG.warning("could not delete shelved image %s: %s", image_id, exception.one_line(exc))
        return
    Store(str(api.conf.api.images_path)).remove(image_id)
