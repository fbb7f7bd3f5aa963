"""``local``: remotable methods run in this process, against this process's database.

This is the indirection of every process that owns the database: the conductor, the
scheduler and API services, and the all-in-one. It follows the same protocol as the
``conductor`` plugin — the method runs on a clone and only its field diff is applied to
the caller's object — so an object behaves identically whichever plugin is configured.
"""

from __future__ import annotations

from typing import Any

from oslo_versionedobjects import base as ovo_base

from nubis.core import exception
from nubis.core.objects import actions


class LocalIndirectionAPI(ovo_base.VersionedObjectIndirectionAPI):
    """Runs remotable methods in-process through :mod:`nubis.core.objects.actions`."""

    def object_action(
        self, context: Any, objinst: Any, objmethod: str, args: Any, kwargs: Any
    ) -> tuple[dict[str, Any], Any]:
        return actions.object_action(context, objinst.obj_clone(), objmethod, args, kwargs)

    def object_class_action(
        self, context: Any, objname: str, objmethod: str, objver: str, args: Any, kwargs: Any
    ) -> Any:
        return actions.object_class_action_versions(
            context, objname, objmethod, {objname: objver}, args, kwargs
        )

    def object_class_action_versions(
        self,
        context: Any,
        objname: str,
        objmethod: str,
        object_versions: dict[str, str],
        args: Any,
        kwargs: Any,
    ) -> Any:
        result = actions.object_class_action_versions(
            context, objname, objmethod, object_versions, args, kwargs
        )
        return result

    def object_backport(self, context: Any, objinst: Any, target_version: str) -> Any:
        return self.object_backport_versions(
            context, objinst, {objinst.obj_name(): target_version}
        )

    def object_backport_versions(
        self, context: Any, objinst: Any, object_versions: dict[str, str]
    ) -> Any:
        # Asked when a received object is newer than this process knows: with no other
        # process to ask, that version cannot be had here.
        raise exception.IncompatibleObjectVersion(
            objname=objinst["nubis_object.name"] if isinstance(objinst, dict) else objinst,
            objver=objinst.get("nubis_object.version") if isinstance(objinst, dict) else "?",
            supported=object_versions,
        )
