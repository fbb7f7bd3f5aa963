"""createImage and createBackup: the compute manager's side.

:class:`Snapshots` carries out ``snapshot_instance`` and ``backup_instance`` for
:class:`~.manager.ComputeManager`, whose RPC methods of the same names hand them over;
shelving (:mod:`.shelve`) takes its snapshot through :meth:`Snapshots.take` too.

Snapshot (a cast; Nova's ``snapshot_instance``)
    Inside :meth:`.operations.Operations.operation` (event ``compute_snapshot_instance``
    on the ``createImage`` action the compute API started): claim the instance from task
    ``image_snapshot_pending`` into ``image_snapshot`` (a backup: ``image_backup``, event
    ``compute_backup_instance`` on ``createBackup``), mark the image the API created
    ``saving`` (from ``queued``), and have the driver write the image file (its steps
    move the task to ``image_pending_upload`` then ``image_uploading``). The image is
    then recorded ``active`` with the size, format and hashes the store computed, and
    the task ends (no task, the vm_state the instance had). The image record is written
    through the remotable Image object (the conductor, on a compute host); the file
    lands in the image store the driver shares with nubis-api.

    A failure deletes the image record (and any file), records a fault on the action and
    clears the task -- the instance stays as it was, as in Nova. An image deleted while
    its snapshot ran (Nova's "image not found during snapshot") ends the task quietly:
    the user asked for it; its file, if written already, is removed. An instance deleted
    or taken by another task meanwhile has its image deleted.

Backup rotation (Nova's ``_rotate_backups``)
    After a backup, the backups of the instance with its ``backup_type`` (image
    properties ``image_type=backup``, ``backup_type``, ``instance_uuid``) beyond the
    newest *rotation* are deleted, record and file -- all of them with rotation 0, the
    new one included, as Nova does. A backup an instance boots from is kept (its file is
    that instance's base image here) and logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nubis.core import exception, objects
from nubis.core.compute.states import InstanceActionName, TaskState
from nubis.core.images.store import mark_active
from nubis.core.virt import driver as virt_driver
from nubis.plugins.managers.compute.operations import LOG, REFUSALS, ManagerView, Operations

EVENT_SNAPSHOT = "compute_snapshot_instance"
EVENT_BACKUP = "compute_backup_instance"

#: The driver's snapshot steps as the task states of createImage / createBackup.
SNAPSHOT_STEPS: Mapping[str, str] = {
    virt_driver.SNAPSHOT_PENDING_UPLOAD: TaskState.IMAGE_PENDING_UPLOAD,
    virt_driver.SNAPSHOT_UPLOADING: TaskState.IMAGE_UPLOADING,
}


class ImageGone(Exception):
    """The image being written was deleted (or changed) by someone else meanwhile."""

    def __init__(self, image_id: str, cause: BaseException) -> None:
        super().__init__(f"image {image_id} was deleted during the snapshot: {cause}")
        self.image_id = image_id


class Snapshots:
    """Snapshots and backs up the instances of the manager in *view*."""

    def __init__(self, view: ManagerView, ops: Operations) -> None:
        self._view = view
        self._ops = ops

    # --- the RPC methods' work -----------------------------------------------------------

    def snapshot_instance(self, context: Any, instance: Any, image_id: str) -> None:
        """See ComputeManager.snapshot_instance."""
        with self._ops.operation(
            context, instance, EVENT_SNAPSHOT, InstanceActionName.CREATE_IMAGE
        ):
            self._take_ending_quietly(
                context,
                instance,
                image_id,
                TaskState.IMAGE_SNAPSHOT_PENDING,
                TaskState.IMAGE_SNAPSHOT,
            )

    def backup_instance(
        self, context: Any, instance: Any, image_id: str, backup_type: str, rotation: int
    ) -> None:
        """See ComputeManager.backup_instance."""
        with self._ops.operation(context, instance, EVENT_BACKUP, InstanceActionName.BACKUP):
            if self._take_ending_quietly(
                context, instance, image_id, TaskState.IMAGE_BACKUP, TaskState.IMAGE_BACKUP
            ):
                self.rotate_backups(context, instance, backup_type, int(rotation))

    def _take_ending_quietly(
        self, context: Any, instance: Any, image_id: str, claimed: str, task: str
    ) -> bool:
        """:meth:`take` ending the task itself; False (task ended, nothing recorded as
        a failure) when the image was deleted meanwhile."""
        try:
            self.take(context, instance, image_id, claimed, task, SNAPSHOT_STEPS)
        except ImageGone as gone:
            LOG.warning("snapshot of instance %s not kept: %s", instance.uuid, gone)
            current = instance.task_state
            instance.task_state = None
            instance.save(expected_task_state=[current])
            return False
        instance.task_state = None
        instance.save(expected_task_state=[SNAPSHOT_STEPS[virt_driver.SNAPSHOT_UPLOADING]])
        LOG.info("instance %s: image %s written", instance.uuid, image_id)
        return True

    # --- the snapshot ----------------------------------------------------------------------

    def take(
        self,
        context: Any,
        instance: Any,
        image_id: str,
        claimed: str,
        task: str,
        steps: Mapping[str, str],
    ) -> Any:
        """Claim *instance* from task *claimed* into *task*, write its snapshot as image
        *image_id* (queued) and record the image active; return the Image. The task is
        left at the last step (``steps[SNAPSHOT_UPLOADING]``) for the caller to end.

        Raises ImageGone when the image was deleted or changed meanwhile (its file
        removed if written); on any other failure the image is deleted (record and
        file) and the error re-raised.
        """
        instance.task_state = task
        try:
            instance.save(expected_task_state=[claimed])
        except (*REFUSALS, exception.InstanceNotFound):
            self.discard_image(context, image_id)
            raise
        try:
            image = objects.Image.get_by_uuid(context, image_id)
            image.status = "saving"
            image.save(expected_status="queued")
        except (exception.ImageNotFound, exception.ImageStatusConflict) as exc:
            raise ImageGone(image_id, exc) from exc
        except Exception:
            self.discard_image(context, image_id)
            raise

        def update_task_state(task_state: str, expected_state: str | None = None) -> None:
            instance.task_state = steps[task_state]
            instance.save(expected_task_state=[steps[expected_state] if expected_state else task])

        try:
            stored = self._view.driver.snapshot(context, instance, image_id, update_task_state)
        except Exception as exc:
            if not self._image_exists(context, image_id):
                raise ImageGone(image_id, exc) from exc
            self.discard_image(context, image_id)
            raise
        mark_active(image, stored)
        try:
            image.save(expected_status="saving")
        except (exception.ImageNotFound, exception.ImageStatusConflict) as exc:
            self._remove_file(image_id)
            raise ImageGone(image_id, exc) from exc
        except Exception:
            self.discard_image(context, image_id)
            raise
        return image

    def _image_exists(self, context: Any, image_id: str) -> bool:
        try:
            return bool(objects.ImageList.get_all(context, filters={"uuid": image_id}, limit=1))
        except Exception:  # cannot tell: treat it as there (it is then deleted)
            return True

    def discard_image(self, context: Any, image_id: str) -> None:
        """Delete image *image_id*'s record and file (a snapshot that failed); what is
        gone already is fine, and a failure here is only logged (the original error
        is the one to report)."""
        try:
            objects.Image(context, uuid=image_id).destroy()
        except exception.ImageNotFound:
            pass
        except Exception:
            LOG.exception("deleting image %s of a failed snapshot failed", image_id)
        self._remove_file(image_id)

    def _remove_file(self, image_id: str) -> None:
        try:
            self._view.driver.image_store().remove(image_id)
        except exception.SnapshotNotSupported:
            pass  # a driver without an image store wrote nothing
        except OSError:
            LOG.exception("removing the file of image %s failed", image_id)

    # --- backups ---------------------------------------------------------------------------

    def rotate_backups(
        self, context: Any, instance: Any, backup_type: str, rotation: int
    ) -> list[str]:
        """Delete the backups of *instance* of *backup_type* beyond the newest
        *rotation* (see the module docstring); return the ids deleted."""
        backups = objects.ImageList.get_all(
            context,
            filters={
                "properties": {
                    "image_type": "backup",
                    "backup_type": backup_type,
                    "instance_uuid": instance.uuid,
                }
            },
            sort=[("created_at", "desc")],
        )
        deleted = []
        for image in list(backups)[rotation:]:
            users = objects.InstanceList.get_all(
                context, filters={"image_ref": image.uuid}, limit=1
            )
            if len(users):
                LOG.warning(
                    "backup %s of instance %s rotated out but kept: instance %s boots from it",
                    image.uuid,
                    instance.uuid,
                    users[0].uuid,
                )
                continue
            try:
                image.destroy()
            except exception.ImageNotFound:
                continue
            self._remove_file(image.uuid)
            deleted.append(image.uuid)
        if deleted:
            LOG.info(
                "instance %s: %s backups beyond %d rotated out: %s",
                instance.uuid,
                backup_type,
                rotation,
                ", ".join(deleted),
            )
        return deleted
