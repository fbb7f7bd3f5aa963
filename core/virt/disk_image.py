"""What a disk image file is: its format (qcow2 or raw) and its guest-visible size.

Drivers that build overlays on base images and the image registry that accepts base
images read the same facts from the same bytes; this module is the one reader. It
understands the qcow2 header (QEMU's docs/interop/qcow2.txt: magic, version, backing
file offset and length, size, encryption method) and treats every other file as raw.
It only reads; writing qcow2 images is a driver's business.
"""

from __future__ import annotations

import dataclasses
import os
import struct

__all__ = [
    "QCOW2_MAGIC",
    "DiskImageInfo",
    "TruncatedImage",
    "inspect",
    "image_format",
    "virtual_size",
]

QCOW2_MAGIC = b"QFI\xfb"
_QCOW2_FIELDS = struct.Struct(">4sIQIIQI")  # magic .. crypt_method: the first 36 bytes


class TruncatedImage(ValueError):
    """The file starts with the qcow2 magic but its header is cut short."""


@dataclasses.dataclass(frozen=True)
class DiskImageInfo:
    """The facts :func:`inspect` reads from one image file."""

    format: str
    """``"qcow2"`` or ``"raw"``."""
    virtual_size: int
    """Bytes the guest sees: the qcow2 header's size, or a raw file's length."""
    has_backing_file: bool = False
    """A qcow2 overlay: reads of unwritten clusters go to another file."""
    encrypted: bool = False
    """A qcow2 image with an encryption method set."""


def inspect(path: str) -> DiskImageInfo:
    """Read *path*'s format and size; raise :class:`TruncatedImage` for a qcow2 file
    whose header is shorter than its fixed part, and OSError when it cannot be read."""
    with open(path, "rb") as f:
        head = f.read(_QCOW2_FIELDS.size)
    if head[:4] != QCOW2_MAGIC:
        return DiskImageInfo("raw", os.path.getsize(path))
    if len(head) < _QCOW2_FIELDS.size:
        raise TruncatedImage(f"{path}: its qcow2 header is truncated")
    _magic, _version, backing_offset, _backing_len, _bits, size, crypt = _QCOW2_FIELDS.unpack(head)
    return DiskImageInfo("qcow2", int(size), bool(backing_offset), bool(crypt))


def image_format(path: str) -> str:
    """``"qcow2"`` when *path* starts with the qcow2 magic, else ``"raw"``."""
    with open(path, "rb") as f:
        return "qcow2" if f.read(4) == QCOW2_MAGIC else "raw"


def virtual_size(path: str) -> int:
    """The guest-visible size of *path* in bytes (a truncated qcow2 header counts as
    raw: its file size)."""
    try:
        return inspect(path).virtual_size
    except TruncatedImage:
        return os.path.getsize(path)
