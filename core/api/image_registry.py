"""The local image registry: base images instances boot from.

An image is a row in the ``images`` table (:class:`nubis.core.objects.image.Image`)
plus, once it has data, a file ``<[api] images_path>/<uuid>`` written by
:mod:`nubis.core.images.store`. An instance's ``image_ref`` is the image's uuid; the
libvirt driver builds the instance's root disk as a qcow2 overlay whose backing file is
that file (``[libvirt] images_path`` must name the same directory, shared by every
compute host that boots from it).

Images come in two ways, through the same store code:

* ``nubis-manage image import`` (:meth:`ImageAPI.import_file`) copies a file in (never
  moves or links it, so the registry owns its copy) as an ``active`` image. The source is
  opened once, without following a symbolic link (``O_NOFOLLOW``), and must be a
  regular file: ``nubis-manage`` usually runs as root, and a link planted where the
  operator expects an image (``x -> /etc/shadow``) must not turn a secret into a public
  image. What is inspected is the registry's own copy, so the file cannot change between
  the check and the copy. Import keeps refusing a name that exists (an operator's slip);
* the Image API (:meth:`ImageAPI.create` then :meth:`ImageAPI.upload`): Glance's
  ``queued`` → ``saving`` → ``active``. A failed upload puts the image back to
  ``queued`` with its partial file removed, as Glance does, so the owner can retry.

Either way the content is probed: ``qcow2`` by its magic, else ``raw``; a qcow2 with a
backing file or encryption is refused (a base image must stand on its own), and an
upload must match the image's ``disk_format``.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from oslo_config import cfg

from nubis.core import exception, objects
from nubis.core.exception import ImageExists, ImageNotFound, InvalidImage
from nubis.core.images import store as image_store
from nubis.core.images.store import IMAGE_FILE_MODE, Readable, probe

__all__ = ["IMAGE_FILE_MODE", "ImageAPI", "probe"]

DISK_FORMATS = ("qcow2", "raw")
CONTAINER_FORMATS = ("bare",)
VISIBILITIES = ("public", "private", "shared", "community")


def _open_regular(source: str) -> Any:
    """*source* opened for reading without following a final symbolic link; InvalidImage
    unless it is a regular file."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if os.path.islink(source):
            reason = "it is not a regular file but a symbolic link (links are not followed)"
        else:
            reason = f"it is not a regular file that can be opened ({exc.strerror})"
        raise InvalidImage(path=source, reason=reason) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidImage(path=source, reason="it is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class ImageAPI:
    """Create, fill, change, look up, list and delete the registry's images."""

    def __init__(self, conf: cfg.ConfigOpts | None = None) -> None:
        self.conf = conf or cfg.CONF
        objects.register_all()

    @property
    def images_path(self) -> str:
        return str(self.conf.api.images_path)

    @property
    def store(self) -> image_store.Store:
        return image_store.Store(self.images_path)

    def path(self, image: Any) -> str:
        """The file of *image*."""
        return self.store.path(str(image.uuid))

    # --- nubis-manage image import -------------------------------------------------------

    def import_file(
        self,
        context: Any,
        name: str,
        source: str,
        *,
        visibility: str = "public",
        owner: str | None = None,
        min_disk: int = 0,
        min_ram: int = 0,
    ) -> Any:
        """Copy *source* into the registry as the active image *name* and return it.

        ImageExists if an image has that name; InvalidImage if *source* is not a
        regular file or not an acceptable image.
        """
        if not name or not name.strip() or len(name) > 255:
            raise exception.Invalid(message=f"image name {name!r}: give 1-255 characters")
        if visibility not in ("public", "private"):
            raise exception.Invalid(
                message=f"visibility {visibility!r} is not one of public, private"
            )
        if self.list(context, filters={"name": name}, limit=1):
            raise ImageExists(name=name)
        image_uuid = str(uuid.uuid4())
        with _open_regular(source) as src:
            stored = self.store.write(image_uuid, src, label=source)
        try:
            image = objects.Image(context)
            image.uuid = image_uuid
            image.name = name
            image.container_format = "bare"
            image.owner = owner
            image.visibility = visibility
            image.min_disk = min_disk
            image.min_ram = min_ram
            _record(image, stored)
            image.create()
        except BaseException:
            self.store.remove(image_uuid)
            raise
        return image

    # --- the Image API ----------------------------------------------------------------------

    def create(self, context: Any, values: Mapping[str, Any]) -> Any:
        """Record a ``queued`` image (no data yet) from validated *values* and return it.
        ImageExists when *values* names an id that exists."""
        image = objects.Image(context)
        image.uuid = str(values.get("id") or uuid.uuid4())
        image.status = "queued"
        image.size = None
        image.virtual_size = None
        image.checksum = None
        image.os_hash_algo = None
        image.os_hash_value = None
        for key in ("name", "disk_format", "container_format", "owner", "visibility"):
            setattr(image, key, values.get(key))
        image.min_disk = int(values.get("min_disk", 0))
        image.min_ram = int(values.get("min_ram", 0))
        image.protected = bool(values.get("protected", False))
        image.tags = sorted(set(values.get("tags", ())))
        image.properties = dict(values.get("properties", {}))
        image.create()
        return image

    def upload(self, context: Any, image: Any, data: Readable) -> Any:
        """Stream *data* into *image* (queued) and make it active; return it.

        ImageStatusConflict (409) unless the image is queued; Invalid (400) when its
        disk_format or container_format is not set yet; ImageTooLarge (413) past
        ``[api] max_image_size``; InvalidImage (400) for content that is not an
        acceptable image of its disk_format. On any failure the partial file is removed
        and the image is queued again.
        """
        missing = [key for key in ("disk_format", "container_format") if not getattr(image, key)]
        if missing:
            raise exception.Invalid(
                message=f"set the image's {' and '.join(missing)} before uploading data "
                f"(disk_format: {', '.join(DISK_FORMATS)}; container_format: bare)"
            )
        image.status = "saving"
        image.save(expected_status="queued")
        try:
            stored = self.store.write(
                str(image.uuid),
                data,
                max_size=int(self.conf.api.max_image_size),
                expected_format=image.disk_format,
            )
        except BaseException:
            self._requeue(image)
            raise
        _record(image, stored)
        try:
            image.save(expected_status="saving")
        except BaseException:
            # Deleted (or reset) while we wrote: the file belongs to no image.
            self.store.remove(str(image.uuid))
            raise
        return image

    def _requeue(self, image: Any) -> None:
        image.status = "queued"
        try:
            image.save(expected_status="saving")
        except (ImageNotFound, exception.ImageStatusConflict):
            pass  # deleted meanwhile: nothing to put back

    def download(self, image: Any) -> Iterator[bytes] | None:
        """The data of *image* in chunks, or None when it has none (not active)."""
        if image.status != "active":
            return None
        try:
            return self.store.read(str(image.uuid))
        except FileNotFoundError:
            return None

    def update(self, context: Any, image: Any, changes: Mapping[str, Any]) -> Any:
        """Apply validated *changes* (attribute → value, ``tags`` a list, ``properties``
        the whole new dict) to *image* and return it."""
        for key, value in changes.items():
            setattr(image, key, value)
        image.save()
        return image

    # --- look-ups ---------------------------------------------------------------------------

    def get(self, context: Any, id_or_name: str) -> Any:
        """The image whose uuid or name is *id_or_name*; ImageNotFound, or
        ImageNameAmbiguous (409) when several images *context* may see (every image for
        an administrator) share the name, as Nova answers.

        Looked up with list queries, so that "not found" never has to cross the
        message bus as an exception (remotable methods may run on a conductor).
        """
        try:
            found = self.list(context, filters={"uuid": str(uuid.UUID(id_or_name))}, limit=1)
        except ValueError:
            found = []
        if found:
            return found[0]
        visible_to = None if getattr(context, "is_admin", False) else context.project_id
        named = self.list(context, filters={"name": id_or_name}, limit=2, visible_to=visible_to)
        if len(named) > 1:
            count = len(self.list(context, filters={"name": id_or_name}, visible_to=visible_to))
            raise exception.ImageNameAmbiguous(name=id_or_name, count=count)
        if not named:
            raise ImageNotFound(image_id=id_or_name)
        return named[0]

    def list(
        self,
        context: Any,
        filters: Mapping[str, Any] | None = None,
        limit: int | None = None,
        marker: str | None = None,
        visible_to: str | None = None,
        sort: list[tuple[str, str]] | None = None,
    ) -> list[Any]:
        """One page of images (see the DB API's ``image_get_all``)."""
        return list(
            objects.ImageList.get_all(
                context,
                filters=filters,
                limit=limit,
                marker=marker,
                visible_to=visible_to,
                sort=sort,
            )
        )

    @staticmethod
    def visible(context: Any, image: Any) -> bool:
        """Whether *context* may see *image*: public, community, its project's, or an
        administrator."""
        return bool(
            image.visibility in ("public", "community")
            or getattr(context, "is_admin", False)
            or (image.owner and image.owner == context.project_id)
        )

    # --- deletion ---------------------------------------------------------------------------

    def delete(self, context: Any, id_or_name: str | Any) -> Any:
        """Delete an image (by id, name or the object) and its file; return it.

        ImageProtected (403) while it is protected; ImageInUse (409) while an instance
        boots from it (its overlay needs the file).
        """
        image = self.get(context, id_or_name) if isinstance(id_or_name, str) else id_or_name
        if image.protected:
            raise exception.ImageProtected(image_id=image.uuid)
        users = objects.InstanceList.get_all(context, filters={"image_ref": image.uuid}, limit=1)
        if len(users):
            raise exception.ImageInUse(image_id=image.uuid, instance_uuid=users[0].uuid)
        image.destroy()
        self.store.remove(str(image.uuid))
        return image


def _record(image: Any, stored: image_store.Stored) -> None:
    """Set *image*'s data attributes from what the store wrote, and make it active."""
    image_store.mark_active(image, stored)
