"""The periodic tasks of nubis-compute (namespace ``nubis.periodic_tasks``).

They are the defaults of ``[compute] periodic_tasks``; an operator drops one by leaving
it out of that list, or adds a third party's by naming it. Each is a function
``(manager, context)`` that drives the compute manager's ``compute_tasks`` (see
``nubis.plugins.managers.compute.tasks``, which holds the rules) -- this plugin never
imports the manager's package, it only uses the attribute:

* ``update_available_resource`` (every 60 s): the resource audit of every node, and
  deletion of compute nodes the driver no longer reports;
* ``sync_power_states`` (every 600 s): database vs. hypervisor power states;
* ``reap_orphans`` (every 1800 s): guests running here that the database deleted or
  never knew, handled as ``[compute] orphan_action`` says (noop, log, reap).

The audit also runs once when the service starts (the manager's pre_start_hook).
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception
from nubis.core.periodic import periodic_task

AUDIT_SPACING = 60
SYNC_POWER_STATES_SPACING = 600
REAP_ORPHANS_SPACING = 1800


def _tasks(manager: Any, task: str) -> Any:
    tasks = getattr(manager, "compute_tasks", None)
    if tasks is None:
        raise exception.ConfigurationError(
            option=f"[{getattr(manager, 'service_name', '?')}] periodic_tasks",
            reason=f"{task} runs only on a compute manager; {type(manager).__name__} has no "
            "compute_tasks",
        )
    return tasks


@periodic_task(spacing=AUDIT_SPACING)
def update_available_resource(manager: Any, context: Any) -> Any:
    """Audit the host's resources and save each ComputeNode that changed."""
    return _tasks(manager, "update_available_resource").update_available_resource(context)


@periodic_task(spacing=SYNC_POWER_STATES_SPACING)
def sync_power_states(manager: Any, context: Any) -> Any:
    """Bring the database's power states in line with the hypervisor (Nova's rules)."""
    return _tasks(manager, "sync_power_states").sync_power_states(context)


@periodic_task(spacing=REAP_ORPHANS_SPACING)
def reap_orphans(manager: Any, context: Any) -> Any:
    """Log or destroy guests the database deleted or never knew ([compute] orphan_action)."""
    action = manager.conf.compute.orphan_action
    return _tasks(manager, "reap_orphans").reap_orphans(context, action)
