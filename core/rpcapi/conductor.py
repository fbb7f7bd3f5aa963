"""Client of the conductor's RPC API: the remote object model.

Version history:

* 1.0 - object_action, object_class_action_versions, object_backport_versions
"""

from __future__ import annotations

from typing import Any

from nubis.core.rpcapi.client import RPCAPIClient


class ConductorAPI(RPCAPIClient):
    """Sends remotable object calls to any conductor on ``[conductor] topic``."""

    RPC_API = "conductor"
    BINARY = "nubis-conductor"
    TOPIC_OPTION = ("conductor", "topic")
    VERSION = "1.0"

    def object_action(
        self, context: Any, objinst: Any, objmethod: str, args: Any, kwargs: Any
    ) -> tuple[dict[str, Any], Any]:
        """Run ``objinst.objmethod`` on a conductor; return ``(updates, result)``."""
        cctxt = self.client.prepare(version="1.0")
        updates, result = cctxt.call(
            context, "object_action", objinst=objinst, objmethod=objmethod, args=args,
            kwargs=kwargs,
        )
        return updates, result

    def object_class_action_versions(
        self,
        context: Any,
        objname: str,
        objmethod: str,
        object_versions: dict[str, str],
        args: Any,
        kwargs: Any,
    ) -> Any:
        """Run classmethod *objmethod* of *objname* on a conductor; return its result."""
        cctxt = self.client.prepare(version="1.0")
        return cctxt.call(
            context, "object_class_action_versions", objname=objname, objmethod=objmethod,
            object_versions=object_versions, args=args, kwargs=kwargs,
        )

    def object_backport_versions(
        self, context: Any, objinst: Any, object_versions: dict[str, str]
    ) -> Any:
        """Have a conductor return *objinst* as a primitive at *object_versions*."""
        cctxt = self.client.prepare(version="1.0")
        return cctxt.call(
            context, "object_backport_versions", objinst=objinst,
            object_versions=object_versions,
        )
