"""The periodic tasks of nubis-compute (namespace ``nubis.periodic_tasks``).

They are the defaults of ``[compute] periodic_tasks``; an operator drops one by leaving
it out of that list, or adds a third party's by naming it. Each is a function
``(manager, context)`` written on the public contract of the compute service,
:class:`nubis.core.compute.host.ComputeHost`, and on nothing else of the manager --
this plugin never imports the manager's package, and a third party's task can do
what these do. One module per task:

* :mod:`.audit` -- ``update_available_resource`` (every 60 s): the resource audit of
  every node, and deletion of compute nodes the driver no longer reports;
* :mod:`.power_states` -- ``sync_power_states`` (every 600 s): database vs. hypervisor
  power states, by the rules of :mod:`nubis.core.compute.power_sync`;
* :mod:`.orphans` -- ``reap_orphans`` (every 1800 s): guests running here that the
  database deleted or never knew, handled as ``[compute] orphan_action`` says (noop,
  log, reap);
* :mod:`.build_timeout` -- ``build_timeout`` (every 60 s): builds of this host older
  than ``[compute] instance_build_timeout`` end in ERROR with a fault;
* :mod:`.usage_audit` -- ``instance_usage_audit`` (checks every 60 s, audits once per
  period, only with ``[DEFAULT] instance_usage_audit``): a usage record of every server
  this host ran in the last completed period, and the host's run in the task log;
* :mod:`.reclaim` -- ``reclaim_queued_deletes`` (every 60 s, only with ``[DEFAULT]
  reclaim_instance_interval`` > 0): soft-deleted instances of this host older than the
  interval are deleted for good;
* :mod:`.shelved` -- ``offload_shelved_instances`` (every 60 s, only with ``[DEFAULT]
  shelved_offload_time`` > 0): shelved instances of this host older than that time are
  offloaded.

The audit also runs once when the service starts (the manager's pre_start_hook runs
this task, found through its entry point). The entry points name the tasks as
attributes of this package.
"""

from __future__ import annotations

from nubis.plugins.periodic_tasks.compute.audit import AUDIT_SPACING, update_available_resource
from nubis.plugins.periodic_tasks.compute.build_timeout import BUILD_TIMEOUT_SPACING, build_timeout
from nubis.plugins.periodic_tasks.compute.orphans import REAP_ORPHANS_SPACING, reap_orphans
from nubis.plugins.periodic_tasks.compute.power_states import (
    SYNC_POWER_STATES_SPACING,
    sync_power_states,
)
from nubis.plugins.periodic_tasks.compute.reclaim import RECLAIM_SPACING, reclaim_queued_deletes
from nubis.plugins.periodic_tasks.compute.shelved import (
    SHELVED_POLL_SPACING,
    offload_shelved_instances,
)
from nubis.plugins.periodic_tasks.compute.usage_audit import (
    USAGE_AUDIT_SPACING,
    instance_usage_audit,
)

__all__ = [
    "AUDIT_SPACING",
    "BUILD_TIMEOUT_SPACING",
    "REAP_ORPHANS_SPACING",
    "RECLAIM_SPACING",
    "SHELVED_POLL_SPACING",
    "SYNC_POWER_STATES_SPACING",
    "USAGE_AUDIT_SPACING",
    "build_timeout",
    "instance_usage_audit",
    "offload_shelved_instances",
    "reap_orphans",
    "reclaim_queued_deletes",
    "sync_power_states",
    "update_available_resource",
]
