"""The local image registry: base images instances boot from.

An image is a file ``<[api] images_path>/<uuid>`` plus a row in the ``images`` table
(:class:`nubis.core.objects.image.Image`). An instance's ``image_ref`` is the image's
uuid; the libvirt driver builds the instance's root disk as a qcow2 overlay whose
backing file is that file (``[libvirt] images_path`` must name the same directory,
shared by every compute host that boots from it).

Importing copies the file in (never moves or links it, so the registry owns its copy),
records its format (``qcow2`` by its magic, else ``raw``), size, virtual size, MD5 and
SHA-512. A qcow2 with a backing file or encryption is refused: a base image must stand
on its own.

The source is opened once, without following a symbolic link (``O_NOFOLLOW``), and must
be a regular file: ``nubis-manage`` usually runs as root, and a link planted where the
operator expects an image (``x -> /etc/shadow``) must not turn a secret into a public
image. What is inspected is the registry's own copy, so the file cannot change between
the check and the copy. Image files are written mode 0640: readable by their owner and
group only (with a set-group-id images directory they take its group; give it to the
user QEMU runs as when libvirt does not relabel backing files itself).
"""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from collections.abc import Mapping
from typing import Any

from oslo_config import cfg

from nubis.core import exception, objects
from nubis.core.exception import ImageExists, ImageNotFound, InvalidImage
from nubis.core.virt import disk_image

_CHUNK = 1 << 20
IMAGE_FILE_MODE = 0o640


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


def probe(path: str) -> tuple[str, int]:
    """Return ``(disk_format, virtual_size)`` of the image at *path*.

    Raises InvalidImage for a qcow2 image that has a backing file or is encrypted,
    or whose header is truncated.
    """
    try:
        info = disk_image.inspect(path)
    except disk_image.TruncatedImage:
        raise InvalidImage(path=path, reason="its qcow2 header is truncated") from None
    if info.has_backing_file:
        raise InvalidImage(
            path=path,
            reason="it is a qcow2 overlay with a backing file; import a standalone image "
            "(qemu-img convert -O qcow2 SRC DEST flattens one)",
        )
    if info.encrypted:
        raise InvalidImage(path=path, reason="it is an encrypted qcow2 image")
    return info.format, info.virtual_size


class ImageAPI:
    """Import, look up and list the registry's images."""

    def __init__(self, conf: cfg.ConfigOpts | None = None) -> None:
        self.conf = conf or cfg.CONF
        objects.register_all()

    @property
    def images_path(self) -> str:
        return str(self.conf.api.images_path)

    def path(self, image: Any) -> str:
        """The file of *image*."""
        return os.path.join(self.images_path, str(image.uuid))

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
        """Copy *source* into the registry as image *name* and return the Image.

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
        os.makedirs(self.images_path, mode=0o755, exist_ok=True)
        final = os.path.join(self.images_path, image_uuid)
        partial = final + ".part"
        md5 = hashlib.md5(usedforsecurity=False)
        sha512 = hashlib.sha512()
        size = 0
        try:
            with _open_regular(source) as src:
                fd = os.open(
                    partial,
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                    IMAGE_FILE_MODE,
                )
                with os.fdopen(fd, "wb") as dst:
                    os.fchmod(dst.fileno(), IMAGE_FILE_MODE)  # whatever the umask
                    while chunk := src.read(_CHUNK):
                        md5.update(chunk)
                        sha512.update(chunk)
                        dst.write(chunk)
                        size += len(chunk)
                    dst.flush()
                    os.fsync(dst.fileno())
            try:
                disk_format, virtual_size = probe(partial)
            except InvalidImage as exc:
                raise InvalidImage(path=source, reason=exc.kwargs.get("reason", "")) from None
            os.replace(partial, final)
            image = objects.Image(context)
            image.uuid = image_uuid
            image.name = name
            image.status = "active"
            image.disk_format = disk_format
            image.container_format = "bare"
            image.size = size
            image.virtual_size = virtual_size
            image.checksum = md5.hexdigest()
            image.os_hash_algo = "sha512"
            image.os_hash_value = sha512.hexdigest()
            image.owner = owner
            image.visibility = visibility
            image.min_disk = min_disk
            image.min_ram = min_ram
            image.create()
        except BaseException:
            for leftover in (partial, final):
                if os.path.exists(leftover):
                    os.unlink(leftover)
            raise
        return image

    def get(self, context: Any, id_or_name: str) -> Any:
        """The image whose uuid or name is *id_or_name*; ImageNotFound.

        Looked up with list queries, so that "not found" never has to cross the
        message bus as an exception (remotable methods may run on a conductor).
        """
        try:
            key = {"uuid": str(uuid.UUID(id_or_name))}
        except ValueError:
            key = {"name": id_or_name}
        found = self.list(context, filters=key, limit=1)
        if not found and "uuid" in key:
            found = self.list(context, filters={"name": id_or_name}, limit=1)
        if not found:
            raise ImageNotFound(image_id=id_or_name)
        return found[0]

    def list(
        self,
        context: Any,
        filters: Mapping[str, Any] | None = None,
        limit: int | None = None,
        marker: str | None = None,
        visible_to: str | None = None,
    ) -> list[Any]:
        """Images in creation order (see the DB API's ``image_get_all``)."""
        return list(
            objects.ImageList.get_all(
                context, filters=filters, limit=limit, marker=marker, visible_to=visible_to
            )
        )

    @staticmethod
    def visible(context: Any, image: Any) -> bool:
        """Whether *context* may see *image*: public, its project's, or an admin."""
        return bool(
            image.visibility == "public"
            or getattr(context, "is_admin", False)
            or (image.owner and image.owner == context.project_id)
        )

    def delete(self, context: Any, id_or_name: str) -> Any:
        """Delete an image no live instance boots from; return it. Invalid (400) when
        some instance still uses it (its overlay needs the file)."""
        image = self.get(context, id_or_name)
        users = objects.InstanceList.get_all(context, filters={"image_ref": image.uuid}, limit=1)
        if len(users):
            raise exception.Invalid(
                message=f"image {image.name} ({image.uuid}) is the base of instance "
                f"{users[0].uuid}; delete the instances that use it first"
            )
        image.destroy()
        try:
            os.unlink(self.path(image))
        except FileNotFoundError:
            pass
        return image
