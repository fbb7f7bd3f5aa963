"""The compute API's methods of rescue and deferred delete, as a base class of
:class:`~.api.API` (the work is in :mod:`.api_rescue` and :mod:`.api_deferred_delete`,
whose docstrings say what each refuses and when).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from nubis.core.compute import api_deferred_delete, api_rescue

if TYPE_CHECKING:
    from nubis.core.compute.api import API


class RecoveryOperations:
    """Rescue, unrescue, soft delete and restore of :class:`~.api.API`."""

    def _api(self) -> API:
        return cast("API", self)

    def rescue(self, context: Any, instance: Any, rescue_image_ref: str | None = None) -> None:
        """Boot *instance* from a rescue disk of *rescue_image_ref* (None: its own
        image), its disks attached after it; see :mod:`.api_rescue`."""
        api_rescue.rescue(self._api(), context, instance, rescue_image_ref)

    def unrescue(self, context: Any, instance: Any) -> None:
        """Give a rescued *instance* its own guest back; see :mod:`.api_rescue`."""
        api_rescue.unrescue(self._api(), context, instance)

    def soft_delete(self, context: Any, instance: Any) -> None:
        """Soft-delete *instance* (or delete it at once where Nova would); see
        :mod:`.api_deferred_delete`."""
        api_deferred_delete.soft_delete(self._api(), context, instance)

    def restore(self, context: Any, instance: Any) -> None:
        """Restore a soft-deleted *instance*; see :mod:`.api_deferred_delete`."""
        api_deferred_delete.restore(self._api(), context, instance)
