"""Rescue and unrescue of the ``fake`` driver (:class:`FakeRescue`, a base class of
:class:`~nubis.plugins.virt.fake.FakeDriver`).

A rescued fake guest remembers the rescue image it booted from (``FakeGuest.rescue_image``,
``""`` for a rescue without a rescue disk; None when the guest is not rescued): its
console shows the rescue boot naming that image and the guest's own image attached
second, and unrescue boots the guest's own system again. The rescue state goes with
the guest: destroy() removes it with everything else.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from nubis.core.virt import power_state


class _Fake(Protocol):
    """What the rescue methods use of the fake driver (its guests are ``FakeGuest``s;
    this module does not import the driver's, which imports it)."""

    _lock: threading.RLock

    def _guest(self, instance: Any) -> Any: ...

    def _set_state(self, guest: Any, state: int) -> None: ...


class FakeRescue:
    """The fake driver's ``supports_rescue`` methods; see the module docstring."""

    def rescue(self: _Fake, context: Any, instance: Any, rescue_image_ref: str | None) -> None:
        with self._lock:
            guest = self._guest(instance)
            if guest.state != power_state.SHUTDOWN:
                guest.shut_down()
            self._set_state(guest, power_state.SHUTDOWN)
            guest.rescue_image = str(rescue_image_ref or "")
            guest.boot()
            self._set_state(guest, power_state.RUNNING)

    def unrescue(self: _Fake, context: Any, instance: Any) -> None:
        with self._lock:
            guest = self._guest(instance)
            if guest.rescue_image is None and guest.state == power_state.RUNNING:
                return
            if guest.state != power_state.SHUTDOWN:
                guest.shut_down()
            self._set_state(guest, power_state.SHUTDOWN)
            guest.rescue_image = None
            guest.boot()
            self._set_state(guest, power_state.RUNNING)
