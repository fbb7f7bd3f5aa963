"""``conductor``: the DB conductor, owner of the database for every other service.

It serves :class:`nubis.core.conductor.rpcapi.ConductorAPI`: it runs remotable object
methods that services without database access (nubis-compute) send it, through
:mod:`nubis.core.objects.actions`; and, as a second endpoint,
:class:`nubis.core.conductor.rpcapi.ComputeTaskAPI` (see :mod:`.compute_task`). An
exception raised by an object method is the caller's to handle: it is returned to the
caller as the same class and is not logged here as a conductor error. Any number of
conductors may serve the topic.

Transient database errors are retried (:mod:`nubis.core.db.retry`) only while the
caller still waits: within half of ``rpc_response_timeout``, so that a write the
caller was told failed (a timeout) is not made behind its back afterwards.
"""

from __future__ import annotations

from typing import Any

import oslo_messaging as messaging

from nubis.core.db import retry
from nubis.core.manager import Manager
from nubis.core.objects import actions
from nubis.plugins.managers.conductor.compute_task import ComputeTaskManager


class ConductorManager(Manager):
    """The conductor's RPC endpoint for the remote object model."""

    target = messaging.Target(version="1.0")
    service_name = "conductor"

    def __init__(self, host: str, conf: Any = None) -> None:
        super().__init__(host, conf)
        self.compute_task_mgr = ComputeTaskManager(self)
        self.additional_endpoints.append(self.compute_task_mgr)

    def object_action(
        self, context: Any, objinst: Any, objmethod: str, args: Any, kwargs: Any
    ) -> tuple[dict[str, Any], Any]:
        try:
            with retry.deadline(self._retry_window()):
                return actions.object_action(context, objinst, objmethod, args, kwargs)
        except Exception:
            raise messaging.ExpectedException() from None

    def object_class_action_versions(
        self,
        context: Any,
        objname: str,
        objmethod: str,
        object_versions: dict[str, str],
        args: Any,
        kwargs: Any,
    ) -> Any:
        try:
            with retry.deadline(self._retry_window()):
                return actions.object_class_action_versions(
                    context, objname, objmethod, object_versions, args, kwargs
                )
        except Exception:
            raise messaging.ExpectedException() from None

    def _retry_window(self) -> float:
        return float(self.conf.rpc_response_timeout) / 2

    def object_backport_versions(
        self, context: Any, objinst: Any, object_versions: dict[str, str]
    ) -> Any:
        return actions.object_backport_versions(context, objinst, object_versions)
