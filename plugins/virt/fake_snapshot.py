"""Snapshots of the ``fake`` driver (:class:`FakeSnapshots`, a base class of
:class:`~nubis.plugins.virt.fake.FakeDriver`).

A snapshot is a real file in the image store (``[fake_driver] images_path``; empty:
``<state_path>/images``, nubis-api's default): a raw image of :data:`SNAPSHOT_BYTES`
whose first bytes record the guest it was taken of (uuid, name, image, boots, power
state), written through :func:`nubis.core.virt.snapshot.write_image` -- so with the
store's guarantees (a ``.part`` file renamed into place, mode 0640, size and hashes).
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from typing import Any, Protocol

from oslo_config import cfg

from nubis.core.images.store import Store, Stored
from nubis.core.virt import power_state, snapshot

#: Size of a fake snapshot.
SNAPSHOT_BYTES = 1024**2


class _Fake(Protocol):
    """What the snapshot methods use of the fake driver."""

    conf: Any
    _lock: threading.RLock

    @property
    def _opts(self) -> Any: ...

    def _guest(self, instance: Any) -> Any: ...


class FakeSnapshots:
    """``supports_snapshot`` of the fake driver."""

    def image_store(self: _Fake) -> Store:
        path = str(self._opts.images_path or "")
        if not path:
            try:
                path = os.path.join(str(self.conf.state_path), "images")
            except cfg.NoSuchOptError:  # a process without nubis' own options
                path = os.path.join(tempfile.gettempdir(), "nubis-fake-images")
        return Store(path)

    def snapshot(
        self: _Fake, context: Any, instance: Any, image_id: str, update_task_state: Any
    ) -> Stored:
        with self._lock:
            guest = self._guest(instance)
            record = (
                f"nubis fake snapshot\ninstance {guest.uuid}\nname {guest.name}\n"
                f"image {guest.image_ref or 'none'}\nboots {guest.boots}\n"
                f"state {power_state.name(guest.state)}\n"
            )
        data = record.encode().ljust(SNAPSHOT_BYTES, b"\0")
        return snapshot.write_image(
            FakeSnapshots.image_store(self), image_id, update_task_state, source=io.BytesIO(data)
        )
