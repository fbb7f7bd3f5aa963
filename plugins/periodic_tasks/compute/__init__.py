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
  than ``[compute] instance_build_timeout`` end in ERROR with a fault.

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

__all__ = [
    "AUDIT_SPACING",
    "BUILD_TIMEOUT_SPACING",
    "REAP_ORPHANS_SPACING",
    "SYNC_POWER_STATES_SPACING",
    "build_timeout",
    "reap_orphans",
    "sync_power_states",
    "update_available_resource",
]
