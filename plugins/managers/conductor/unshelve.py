"""The conductor's side of unshelve (``compute_task`` 1.2, Nova's conductor
``unshelve_instance``).

The instance arrives in task ``unshelving`` (the compute API claimed it); a request
delivered twice, or one whose instance moved on, is dropped. Then:

* ``shelved`` (its guest still on its host, powered off): cast ``unshelve_instance``
  to that host, which powers the guest on;
* ``shelved_offloaded`` (no host): ask the scheduler for one destination by the
  RequestSpec the API made (its ``force_hosts`` a requested zone's hosts or a requested
  host), then cast ``unshelve_instance`` to it with the node; the host claims the
  resources and spawns the guest from the shelved image.

When the instance cannot be placed (NoValidHost) or the cast cannot be sent, the task
ends with a fault, the instance stays shelved as it was, and the ``unshelve`` action
ends (event ``conductor_unshelve_instance`` records the error). A request that made no
progress is ended by the reconciler (``[conductor] task_timeout``).
"""

from __future__ import annotations

import logging
from typing import Any

from nubis.core import exception
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.compute.states import TaskState, VMState

LOG = logging.getLogger(__name__)

EVENT_UNSHELVE = "conductor_unshelve_instance"


class Unshelves:
    """Unshelve for the conductor's compute_task endpoint *endpoint* (its host, RPC
    clients and event recording)."""

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint

    def unshelve_instance(self, context: Any, instance: Any, spec: Any) -> None:
        """See the module docstring."""
        endpoint = self.endpoint
        current = endpoint._current_in_task(context, instance, TaskState.UNSHELVING)
        if current is None:
            return
        endpoint._event_start(context, current.uuid, EVENT_UNSHELVE)
        try:
            endpoint._require_compute_version(ComputeAPI.SHELVE_VERSION, "unshelve")
            if current.vm_state == VMState.SHELVED:
                if not current.host:
                    raise exception.InstanceNotReady(
                        instance_id=current.uuid, reason="it has no compute host"
                    )
                host, node = current.host, current.node
            else:
                spec.instance_uuid = current.uuid
                spec.num_instances = 1
                spec.num_attempts = (spec.num_attempts or 0) + 1
                [destination] = endpoint.scheduler_rpcapi.select_destinations(
                    context, spec, ignore_hosts=list(spec.ignore_hosts), num=1
                )
                host, node = destination["host"], destination["nodename"]
            endpoint.compute_rpcapi.unshelve_instance(
                context, current, host, node=node, request_spec=spec
            )
        except Exception as exc:
            if not isinstance(exc, exception.NubisException):
                exc = exception.NoValidHost(reason=f"unshelve failed: {exception.one_line(exc)}")
            endpoint._not_sent(
                "unshelve", context, current, TaskState.UNSHELVING, EVENT_UNSHELVE, exc
            )
            return
        endpoint._event_finish(context, current.uuid, EVENT_UNSHELVE)
        LOG.info("unshelve of instance %s sent to %s (node %s)", current.uuid, host, node)
