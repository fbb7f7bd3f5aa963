"""Quotas: the quota checks of a server create (:mod:`nubis.core.quota`) as remotable
calls, so that a process without the database (the compute API with ``[indirection]
api = conductor``) has them run where the database is. The limits' defaults are the
``[quota]`` options of the process that runs them."""

from __future__ import annotations

from typing import Any

from oslo_config import cfg

from nubis.core import quota
from nubis.core.objects import base


@base.NubisObjectRegistry.register
class Quotas(base.NubisObject):
    """Quota checks (no state of its own).

    Version history:

    * 1.0 - initial version: instances_allowed, recheck_instances
    """

    VERSION = "1.0"

    fields: dict[str, Any] = {}

    @base.remotable_classmethod
    def instances_allowed(
        cls,
        context: Any,
        project_id: str,
        user_id: str,
        flavor: Any,
        min_count: int,
        max_count: int,
    ) -> int:
        """See :func:`nubis.core.quota.instances_allowed`."""
        return quota.instances_allowed(
            context, cfg.CONF, project_id, user_id, flavor, min_count, max_count
        )

    @base.remotable_classmethod
    def recheck_instances(
        cls, context: Any, project_id: str, user_id: str, flavor: Any
    ) -> None:
        """See :func:`nubis.core.quota.recheck_instances`."""
        quota.recheck_instances(context, cfg.CONF, project_id, user_id, flavor)
