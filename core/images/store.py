"""Image files: ``<images_path>/<uuid>``, one per image, in a directory nubis-api and
the compute hosts share (``[api] images_path`` and the virt driver's images directory
name the same one).

:meth:`Store.write` streams a source (anything with ``read(n)``: an opened file for
``nubis-manage image import``, the request body for ``PUT /v2/images/{id}/file``) into
the store in 1 MiB chunks, computing size, MD5 (Glance's ``checksum``) and SHA-512
(``os_hash_value``) on the way, never holding more than one chunk; it writes
``<uuid>.part``, checks the content (:func:`probe`), and renames it into place only
when everything passed. :meth:`Store.write_produced` gives the same guarantees to a file
a tool writes itself (a virt driver's ``qemu-img convert`` of a guest's disk into the
``.part`` path): it is hashed, checked and renamed the same way. Whatever fails or is
interrupted, the partial file is removed.

Image files are written mode 0640: readable by their owner and group only (with a
set-group-id images directory they take its group; give it to the user QEMU runs as
when libvirt does not relabel backing files itself).

:func:`mark_active` sets an Image record's data attributes from what was stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from nubis.core import exception
from nubis.core.exception import InvalidImage
from nubis.core.virt import disk_image

CHUNK = 1 << 20


def _HASHER_POOL_FACTORY() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-hash")


IMAGE_FILE_MODE = 0o640
HASH_ALGO = "sha512"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclasses.dataclass(frozen=True)
class Stored:
    """What :func:`write` stored: the file's size, hashes and probed format."""

    size: int
    checksum: str
    os_hash_value: str
    disk_format: str
    virtual_size: int


def probe(path: str) -> tuple[str, int]:
    """Return ``(disk_format, virtual_size)`` of the image at *path*: ``qcow2`` by its
    magic, else ``raw``.

    Raises InvalidImage for a qcow2 image that has a backing file or is encrypted, or
    whose header is truncated: a base image must stand on its own.
    """
    try:
        info = disk_image.inspect(path)
    except disk_image.TruncatedImage:
        raise InvalidImage(path=path, reason="its qcow2 header is truncated") from None
    if info.has_backing_file:
        raise InvalidImage(
            path=path,
            reason="it is a qcow2 overlay with a backing file; use a standalone image "
            "(qemu-img convert -O qcow2 SRC DEST flattens one)",
        )
    if info.encrypted:
        raise InvalidImage(path=path, reason="it is an encrypted qcow2 image")
    return info.format, info.virtual_size


def _reopen(path: str, flags: int, mode: str) -> Any:
    """*path* opened again (never through a symbolic link put in its place)."""
    return os.fdopen(os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC), mode)


def _copy_hashing(source: Readable, dst: Any, max_size: int | None) -> tuple[int, Any, Any]:
    """Read *source* to the end in chunks, writing each to *dst* (None: only read);
    return (size, md5, sha512). ImageTooLarge past *max_size* bytes."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha512 = hashlib.sha512()
    size = 0
    # SHA-512 runs on a second thread while this one does MD5 and the write:
    # hashlib releases the GIL on large buffers, so the two hashes overlap.
    with _HASHER_POOL_FACTORY() as pool:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if max_size is not None and size > max_size:
                raise exception.ImageTooLarge(limit=max_size)
            hashing = pool.submit(sha512.update, chunk)
            md5.update(chunk)
            if dst is not None:
                dst.write(chunk)
            hashing.result()
    return size, md5, sha512


class Store:
    """The files of one images directory."""

    def __init__(self, images_path: str) -> None:
        self.images_path = images_path

    def path(self, image_uuid: str) -> str:
        """The file of image *image_uuid*."""
        return os.path.join(self.images_path, image_uuid)

    def write(
        self,
        image_uuid: str,
        source: Readable,
        *,
        max_size: int | None = None,
        expected_format: str | None = None,
        label: str = "the image data",
    ) -> Stored:
        """Stream *source* to the end into the file of *image_uuid*; see the module
        docstring. Refuses an existing file (FileExistsError).

        ImageTooLarge once more than *max_size* bytes came; InvalidImage (naming
        *label*) when the content is not an acceptable image or, with
        *expected_format*, not of that format.
        """
        final, partial = self._reserve(image_uuid)
        try:
            with _reopen(partial, os.O_WRONLY, "wb") as dst:
                size, md5, sha512 = _copy_hashing(source, dst, max_size)
                dst.flush()
                os.fsync(dst.fileno())
            return self._settle(partial, final, size, md5, sha512, expected_format, label)
        except BaseException:
            self._remove(partial)
            raise

    def write_produced(
        self,
        image_uuid: str,
        produce: Callable[[str], None],
        *,
        expected_format: str | None = None,
        label: str = "the image data",
    ) -> Stored:
        """Have *produce(path)* write the file of *image_uuid* at *path* (its ``.part``
        file, created empty mode 0640 beforehand; a tool may replace its content but
        must not move it), then hash, check and rename it into place as :meth:`write`
        does. Refuses an existing file (FileExistsError); InvalidImage (naming *label*)
        when the content is not an acceptable image or not *expected_format*; whatever
        *produce* raises, with the partial file removed.
        """
        final, partial = self._reserve(image_uuid)
        try:
            produce(partial)
            with _reopen(partial, os.O_RDWR, "rb+") as produced:
                os.fchmod(produced.fileno(), IMAGE_FILE_MODE)
                os.fsync(produced.fileno())
                size, md5, sha512 = _copy_hashing(produced, None, None)
            return self._settle(partial, final, size, md5, sha512, expected_format, label)
        except BaseException:
            self._remove(partial)
            raise

    def _reserve(self, image_uuid: str) -> tuple[str, str]:
        """Create the empty ``.part`` file of *image_uuid* (mode 0640, never through a
        link, FileExistsError when a write is under way); return (final, partial)."""
        os.makedirs(self.images_path, mode=0o755, exist_ok=True)
        final = self.path(image_uuid)
        partial = final + ".part"
        fd = os.open(
            partial,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            IMAGE_FILE_MODE,
        )
        try:
            os.fchmod(fd, IMAGE_FILE_MODE)  # whatever the umask
        finally:
            os.close(fd)
        return final, partial

    @staticmethod
    def _settle(
        partial: str,
        final: str,
        size: int,
        md5: Any,
        sha512: Any,
        expected_format: str | None,
        label: str,
    ) -> Stored:
        """Check the written *partial* file and rename it to *final*."""
        try:
            disk_format, virtual_size = probe(partial)
        except InvalidImage as exc:
            raise InvalidImage(path=label, reason=exc.kwargs.get("reason", "")) from None
        if expected_format is not None and disk_format != expected_format:
            raise InvalidImage(
                path=label,
                reason=f"its content is {disk_format}, not the image's disk_format "
                f"{expected_format}; upload a {expected_format} file or create the "
                f"image with disk_format {disk_format}",
            )
        if os.path.lexists(final):
            raise FileExistsError(final)
        os.replace(partial, final)
        return Stored(size, md5.hexdigest(), sha512.hexdigest(), disk_format, virtual_size)

    def read(self, image_uuid: str) -> Iterator[bytes]:
        """The file of *image_uuid* in chunks (FileNotFoundError when there is none);
        opened before the first chunk is asked for, closed after the last."""
        handle = open(self.path(image_uuid), "rb")  # noqa: SIM115 (closed by the generator)

        def chunks() -> Iterator[bytes]:
            with handle:
                while chunk := handle.read(CHUNK):
                    yield chunk

        return chunks()

    def remove(self, image_uuid: str) -> None:
        """Remove the file of *image_uuid* (and any partial one); absent is fine."""
        self._remove(self.path(image_uuid) + ".part")
        self._remove(self.path(image_uuid))

    @staticmethod
    def _remove(path: str) -> None:
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            pass


def mark_active(image: Any, stored: Stored) -> None:
    """Set *image*'s (an Image object's) data attributes from what the store wrote,
    and make it ``active``; the caller saves it."""
    image.status = "active"
    image.disk_format = stored.disk_format
    image.size = stored.size
    image.virtual_size = stored.virtual_size
    image.checksum = stored.checksum
    image.os_hash_algo = HASH_ALGO
    image.os_hash_value = stored.os_hash_value
