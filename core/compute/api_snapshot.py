"""The compute API's createImage and createBackup (:class:`~.api.API` hands them over).

Both record the image first, as Nova does (``queued``, no data; the compute host fills
it), then claim the instance with a compare-and-swap on ``task_state`` and cast to its
host:

* the image: named as asked, owned by the instance's project (``shared``, Glance's
  default, or ``private`` when the caller belongs to another project), ``min_ram`` of
  the instance's base image and ``min_disk`` the larger of the base image's and the
  flavor's root disk; its properties are the base image's (when it still exists) with
  ``image_type`` (``snapshot`` or ``backup``), ``instance_uuid``, ``user_id`` and
  ``base_image_ref`` (and ``backup_type`` for a backup) over them, then the caller's
  *extra_properties* over those (Nova lets them override). Its ``disk_format`` is set by
  the compute host from what it wrote (qcow2 from the libvirt driver);
* the claim: ``image_snapshot_pending`` (createImage) or ``image_backup`` (createBackup),
  from an ``active``, ``stopped``, ``paused`` or ``suspended`` instance with no task
  (InstanceInvalidState, HTTP 409, otherwise). Like Nova, neither checks the instance's
  lock: a snapshot does not change the instance.

When the claim or the cast fails the image is deleted again and the claim released:
the client was told the request failed, so nothing of it stays. ServiceTooOld (409)
when a compute host could not take the cast; ServiceUnavailable (503) when the
instance's compute service is down or the bus does not take the cast.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nubis.core import exception, objects
from nubis.core.compute.api_actions import _require, _require_host_up
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.compute.states import (
    SNAPSHOTTABLE_VM_STATES,
    InstanceActionName,
    TaskState,
)

if TYPE_CHECKING:
    from nubis.core.compute.api import API

LOG = logging.getLogger("nubis.core.compute.api")

#: Properties a snapshot does not inherit from its base image: nubis and Nova set them
#: for the new image (or they describe the base's own origin).
NOT_INHERITED = frozenset(
    {"image_type", "instance_uuid", "user_id", "base_image_ref", "backup_type", "shelved"}
)


def snapshot(
    api: API,
    context: Any,
    instance: Any,
    name: str,
    extra_properties: Mapping[str, str] | None = None,
) -> Any:
    """createImage: record a ``queued`` snapshot image of *instance* named *name* and
    have its host write it; return the Image. See the module docstring."""
    return _start(
        api,
        context,
        instance,
        name,
        "snapshot",
        dict(extra_properties or {}),
        verb="createImage",
        action=InstanceActionName.CREATE_IMAGE,
        task=TaskState.IMAGE_SNAPSHOT_PENDING,
        cast=lambda image: api.compute_rpcapi.snapshot_instance(context, instance, image.uuid),
    )


def backup(
    api: API,
    context: Any,
    instance: Any,
    name: str,
    backup_type: str,
    rotation: int,
    extra_properties: Mapping[str, str] | None = None,
) -> Any:
    """createBackup: like :func:`snapshot` with ``image_type`` ``backup`` and the
    ``backup_type`` property; after writing it the host deletes the instance's oldest
    backups of *backup_type* beyond *rotation* (0: all of them, this one too)."""
    if rotation < 0:
        raise exception.Invalid(message=f"rotation {rotation}: give 0 or more")
    properties = {**dict(extra_properties or {}), "backup_type": backup_type}
    return _start(
        api,
        context,
        instance,
        name,
        "backup",
        properties,
        verb="createBackup",
        action=InstanceActionName.BACKUP,
        task=TaskState.IMAGE_BACKUP,
        cast=lambda image: api.compute_rpcapi.backup_instance(
            context, instance, image.uuid, backup_type, rotation
        ),
    )


def _start(
    api: API,
    context: Any,
    instance: Any,
    name: str,
    image_type: str,
    extra_properties: dict[str, str],
    *,
    verb: str,
    action: str,
    task: str,
    cast: Any,
) -> Any:
    api._check_state(instance, verb, SNAPSHOTTABLE_VM_STATES, (None,))
    check_has_disk(instance)
    _require(api.compute_rpcapi, ComputeAPI.SNAPSHOT_VERSION, verb)
    _require_host_up(api, context, instance)
    image = create_image(context, instance, name, image_type, extra_properties)
    try:
        api._claim(context, instance, verb, action, task, vm_states=SNAPSHOTTABLE_VM_STATES)
    except Exception:
        delete_image_record(image)
        raise
    try:
        api._cast_or_release(context, instance, task, None, lambda: cast(image))
    except exception.ServiceUnavailable:
        delete_image_record(image)
        raise
    LOG.info("%s of instance %s requested: image %s", verb, instance.uuid, image.uuid)
    return image


def check_has_disk(instance: Any) -> None:
    """Invalid (400) for an instance without a root disk (built without an image):
    there is nothing to snapshot."""
    if not instance.image_ref:
        raise exception.Invalid(
            message=f"instance {instance.uuid} has no root disk (it was created without "
            "an image): there is nothing to snapshot"
        )


def create_image(
    context: Any,
    instance: Any,
    name: str,
    image_type: str,
    extra_properties: Mapping[str, str],
) -> Any:
    """Record and return the ``queued`` image of a snapshot of *instance* (see the
    module docstring for what it gets)."""
    base = _base_image(context, instance.image_ref)
    flavor = _flavor(context, instance)
    properties = {
        key: value
        for key, value in (base.properties if base is not None else {}).items()
        if key not in NOT_INHERITED
    }
    properties.update(
        image_type=image_type,
        instance_uuid=instance.uuid,
        user_id=str(context.user_id or ""),
        base_image_ref=str(instance.image_ref or ""),
    )
    properties.update({key: str(value) for key, value in extra_properties.items()})
    root_gb = int(flavor.root_gb or 0) if flavor is not None else int(instance.root_gb or 0)
    image = objects.Image(context)
    image.uuid = str(uuid_module.uuid4())
    image.name = name
    image.status = "queued"
    image.disk_format = None
    image.container_format = "bare"
    for key in ("size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value"):
        setattr(image, key, None)
    image.owner = instance.project_id
    image.visibility = "private" if context.project_id != instance.project_id else "shared"
    image.min_ram = int(base.min_ram or 0) if base is not None else 0
    image.min_disk = max(int(base.min_disk or 0) if base is not None else 0, root_gb)
    image.protected = False
    image.tags = []
    image.properties = properties
    image.create()
    return image


def delete_image_record(image: Any) -> None:
    """Delete the record of an image no host was asked to write (no file yet)."""
    try:
        image.destroy()
    except exception.ImageNotFound:
        pass
    except Exception as exc:
        LOG.warning(
            "could not delete image %s of a refused request: %s",
            image.uuid,
            exception.one_line(exc),
        )


def _base_image(context: Any, image_ref: str | None) -> Any:
    if not image_ref:
        return None
    found = objects.ImageList.get_all(context, filters={"uuid": image_ref}, limit=1)
    return found[0] if found else None


def _flavor(context: Any, instance: Any) -> Any:
    if instance.flavor_id is None:
        return None
    try:
        return objects.Flavor.get_by_id(context, instance.flavor_id)
    except exception.FlavorNotFound:
        return None
