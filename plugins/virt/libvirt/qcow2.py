"""Empty qcow2 (version 3) images, optionally over a backing file: instance overlays.

Reading an image's format and size is :mod:`nubis.core.virt.disk_image`'s (re-exported
here for the driver).

An instance's root disk is a copy-on-write overlay on a local base image: every
cluster is unallocated, so every read goes to the base until the guest writes. Such
an image is only metadata, written here directly (so the driver needs no qemu-img):

====== ================================================================================
offset content
====== ================================================================================
0      header (104 bytes), backing-format extension, end of extensions, backing name
64 KiB refcount table: one entry, the refcount block below
128KiB refcount block: 16-bit refcounts, 1 for each of the image's own clusters
192KiB L1 table, all zero (no L2 tables: nothing allocated)
====== ================================================================================

The format is documented in QEMU's docs/interop/qcow2.txt.
"""

from __future__ import annotations

import os
import struct

from nubis.core.virt.disk_image import QCOW2_MAGIC as MAGIC
from nubis.core.virt.disk_image import image_format, virtual_size

__all__ = ["MAGIC", "CLUSTER_SIZE", "create", "image_format", "virtual_size"]

VERSION = 3
CLUSTER_BITS = 16
CLUSTER_SIZE = 1 << CLUSTER_BITS
REFCOUNT_ORDER = 4  # 16-bit refcounts
HEADER = struct.Struct(">4sIQIIQIIQQIIQQQQII")  # 104 bytes: the version 3 header
EXT_BACKING_FORMAT = 0xE2792ACA
EXT_END = 0


def _extension(kind: int, data: bytes) -> bytes:
    padded = data + b"\0" * (-len(data) % 8)
    return struct.pack(">II", kind, len(data)) + padded


def create(
    path: str,
    size: int,
    backing_file: str | None = None,
    backing_format: str | None = None,
) -> None:
    """Write an empty qcow2 image of *size* bytes at *path* (which must not exist).

    With *backing_file* (an absolute path) reads of unwritten clusters go to it;
    *backing_format* (``"raw"`` or ``"qcow2"``) is recorded so that nothing probes it.
    """
    if size <= 0:
        raise ValueError(f"qcow2 size must be positive, got {size}")
    l2_coverage = CLUSTER_SIZE * (CLUSTER_SIZE // 8)
    l1_size = -(-size // l2_coverage)
    l1_clusters = max(1, -(-(l1_size * 8) // CLUSTER_SIZE))
    refcount_table, refcount_block, l1_table = CLUSTER_SIZE, 2 * CLUSTER_SIZE, 3 * CLUSTER_SIZE
    clusters = 3 + l1_clusters
    if clusters > CLUSTER_SIZE * 8 // (1 << REFCOUNT_ORDER):
        raise ValueError(f"qcow2 size {size} too large for one refcount block")

    extensions = b""
    backing = b""
    if backing_file:
        backing = os.fsencode(backing_file)
        if backing_format:
            extensions += _extension(EXT_BACKING_FORMAT, backing_format.encode())
    extensions += struct.pack(">II", EXT_END, 0)
    backing_offset = HEADER.size + len(extensions) if backing else 0
    if backing_offset + len(backing) > CLUSTER_SIZE or len(backing) > 1023:
        raise ValueError(f"backing file name too long: {backing_file}")
    header = HEADER.pack(
        MAGIC,
        VERSION,
        backing_offset,
        len(backing),
        CLUSTER_BITS,
        size,
        0,  # no encryption
        l1_size,
        l1_table,
        refcount_table,
        1,  # refcount table clusters
        0,  # snapshots
        0,
        0,  # incompatible features
        0,  # compatible features
        0,  # autoclear features
        REFCOUNT_ORDER,
        HEADER.size,
    )
    refcounts = struct.pack(f">{clusters}H", *([1] * clusters))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.truncate(clusters * CLUSTER_SIZE)
            f.write(header + extensions + backing)
            f.seek(refcount_table)
            f.write(struct.pack(">Q", refcount_block))
            f.seek(refcount_block)
            f.write(refcounts)
    except BaseException:
        os.unlink(path)
        raise
