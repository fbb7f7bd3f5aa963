"""``conductor``: remotable methods run on nubis-conductor, over RPC.

This is nubis-compute's indirection: every remotable call becomes a call to the
conductor topic, which owns the database. :meth:`ConductorIndirectionAPI.wait_until_ready`
lets a starting service wait for a conductor to answer before it needs one.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import oslo_messaging as messaging
from oslo_versionedobjects import base as ovo_base

from nubis.core import binaries, exception
from nubis.core.conductor.rpcapi import ConductorAPI
from nubis.core.rpc.baseapi import BaseAPI

LOG = logging.getLogger(__name__)


class ConductorIndirectionAPI(ovo_base.VersionedObjectIndirectionAPI):
    """Sends remotable calls to the conductor through ConductorAPI."""

    def __init__(self) -> None:
        self._rpcapi: ConductorAPI | None = None

    @property
    def rpcapi(self) -> ConductorAPI:
        if self._rpcapi is None:
            self._rpcapi = ConductorAPI()
        return self._rpcapi

    def object_action(
        self, context: Any, objinst: Any, objmethod: str, args: Any, kwargs: Any
    ) -> tuple[dict[str, Any], Any]:
        return self.rpcapi.object_action(context, objinst, objmethod, args, kwargs)

    def object_class_action(
        self, context: Any, objname: str, objmethod: str, objver: str, args: Any, kwargs: Any
    ) -> Any:
        return self.rpcapi.object_class_action_versions(
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
        return self.rpcapi.object_class_action_versions(
            context, objname, objmethod, object_versions, args, kwargs
        )

    def object_backport(self, context: Any, objinst: Any, target_version: str) -> Any:
        return self.object_backport_versions(
            context, objinst, {objinst.obj_name(): target_version}
        )

    def object_backport_versions(
        self, context: Any, objinst: Any, object_versions: dict[str, str]
    ) -> Any:
        return self.rpcapi.object_backport_versions(context, objinst, object_versions)

    def wait_until_ready(self, context: Any, timeout: float, log_every: float = 10.0) -> None:
        """Ping the conductor with back-off until it answers or *timeout* passes.

        Each ping waits at most a second, so a conductor that arrives late is found
        promptly. Logs the first miss and then one line per *log_every* seconds;
        raises ServiceTimeout at the end.
        """
        ping = BaseAPI(self.rpcapi.topic)
        deadline = time.monotonic() + timeout
        next_log = time.monotonic()
        delay = 0.1
        while True:
            remaining = deadline - time.monotonic()
            try:
                ping.ping(context, "ready?", timeout=max(0.1, min(remaining, 1.0)))
                return
            except messaging.MessagingTimeout:
                pass
            now = time.monotonic()
            if now >= deadline:
                raise exception.ServiceTimeout(what=binaries.CONDUCTOR, timeout=timeout)
            if now >= next_log:
                LOG.warning(
                    "waiting for nubis-conductor on topic %s (%.0f s left)",
                    self.rpcapi.topic,
                    deadline - now,
                )
                next_log = now + log_every
            time.sleep(min(delay, max(0.0, deadline - now)))
            delay = min(delay * 2, 2.0)
