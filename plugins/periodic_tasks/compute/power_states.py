"""``sync_power_states``: the database's power states brought in line with the hypervisor.

Applies the rules of :mod:`nubis.core.compute.power_sync` (Nova's: who wins when the
database and the hypervisor disagree) to every instance of the host. An instance with a
task in progress is skipped without asking the driver; one whose sync fails is logged
and the others go on. Skipped while the hypervisor is unavailable. The outcomes that
changed something are logged in one line.
"""

from __future__ import annotations

import logging
from typing import Any

from nubis.core import exception, objects
from nubis.core.compute import power_sync
from nubis.core.compute.host import compute_host_of
from nubis.core.periodic import periodic_task

LOG = logging.getLogger(__name__)

SYNC_POWER_STATES_SPACING = 600


@periodic_task(spacing=SYNC_POWER_STATES_SPACING)
def sync_power_states(manager: Any, context: Any) -> dict[str, str]:
    """Bring the database's power states in line with the hypervisor (Nova's rules)."""
    host = compute_host_of(manager, "sync_power_states")
    if not host.driver.is_hypervisor_available():
        LOG.warning("power-state sync of %s skipped: the hypervisor is unavailable", host.host)
        return {}
    instances = list(objects.InstanceList.get_by_host(context, host.host))
    outcomes: dict[str, str] = {}
    for instance in instances:
        if instance.task_state is not None:
            outcomes[instance.uuid] = power_sync.SKIPPED_TASK
            continue
        try:
            outcomes[instance.uuid] = power_sync.sync_instance(host, context, instance)
        except Exception as exc:
            LOG.exception("power-state sync of instance %s failed", instance.uuid)
            outcomes[instance.uuid] = f"failed: {exception.one_line(exc)}"
    changed = {
        u: o for u, o in outcomes.items() if o not in (power_sync.IN_SYNC, power_sync.SKIPPED_TASK)
    }
    if changed:
        LOG.info("power-state sync of %s: %s", host.host, changed)
    return outcomes
