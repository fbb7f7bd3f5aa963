"""The compute API's methods of images and shelving, as a base class of
:class:`~.api.API` (the work is in :mod:`.api_snapshot` and :mod:`.api_shelve`, whose
docstrings say what each records, refuses and sends).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from nubis.core.compute import api_shelve, api_snapshot

if TYPE_CHECKING:
    from nubis.core.compute.api import API


class ImageOperations:
    """createImage, createBackup, shelve, shelveOffload and unshelve of
    :class:`~.api.API`."""

    def _api(self) -> API:
        return cast("API", self)

    def snapshot(self, context: Any, instance: Any, name: str, **kwargs: Any) -> Any:
        """createImage; returns the queued Image. See :func:`.api_snapshot.snapshot`."""
        return api_snapshot.snapshot(self._api(), context, instance, name, **kwargs)

    def backup(self, context: Any, instance: Any, name: str, **kwargs: Any) -> Any:
        """createBackup; returns the queued Image. See :func:`.api_snapshot.backup`."""
        return api_snapshot.backup(self._api(), context, instance, name, **kwargs)

    def shelve(self, context: Any, instance: Any, clean_shutdown: bool = True) -> Any:
        """Shelve *instance*; returns the queued Image (None without a root disk). See
        :func:`.api_shelve.shelve`."""
        return api_shelve.shelve(self._api(), context, instance, clean_shutdown)

    def shelve_offload(self, context: Any, instance: Any, clean_shutdown: bool = True) -> None:
        """Offload a shelved *instance*; see :func:`.api_shelve.shelve_offload`."""
        api_shelve.shelve_offload(self._api(), context, instance, clean_shutdown)

    def unshelve(self, context: Any, instance: Any, **kwargs: Any) -> None:
        """Unshelve *instance*; see :func:`.api_shelve.unshelve`."""
        api_shelve.unshelve(self._api(), context, instance, **kwargs)
