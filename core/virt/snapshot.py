"""Snapshot helpers drivers share: the steps of :meth:`ComputeDriver.snapshot
<nubis.core.virt.driver.ComputeDriver.snapshot>` and the write into the image store.

:func:`write_image` reports the two steps the contract asks for (Nova's task states
``image_pending_upload`` then ``image_uploading``) and writes the image file through
:class:`nubis.core.images.store.Store`: from a stream of bytes (a driver that builds the
image itself) or from a tool that writes the ``.part`` file (``qemu-img convert``). The
store's guarantees hold either way: a ``.part`` file renamed into place, mode 0640, size
and hashes computed, nothing left behind on failure.
"""

from __future__ import annotations

from collections.abc import Callable

from nubis.core.images.store import Readable, Store, Stored
from nubis.core.virt.driver import SNAPSHOT_PENDING_UPLOAD, SNAPSHOT_UPLOADING, UpdateTaskState

__all__ = ["write_image"]


def write_image(
    store: Store,
    image_id: str,
    update_task_state: UpdateTaskState,
    *,
    source: Readable | None = None,
    produce: Callable[[str], None] | None = None,
    expected_format: str | None = None,
    label: str = "the snapshot",
) -> Stored:
    """Report the snapshot's steps, then write image *image_id*'s file into *store*
    from *source* (read to the end) or by *produce(path)* (which writes the ``.part``
    file at *path*); give exactly one. Returns what was stored.

    What ``update_task_state`` raises (the instance was taken or deleted) stops it
    before anything is written; a content that is not an acceptable image, or not
    *expected_format*, raises InvalidImage naming *label*.
    """
    if (source is None) == (produce is None):
        raise ValueError("give exactly one of source and produce")
    update_task_state(SNAPSHOT_PENDING_UPLOAD, None)
    update_task_state(SNAPSHOT_UPLOADING, SNAPSHOT_PENDING_UPLOAD)
    if produce is not None:
        return store.write_produced(image_id, produce, expected_format=expected_format, label=label)
    assert source is not None
    return store.write(image_id, source, expected_format=expected_format, label=label)
