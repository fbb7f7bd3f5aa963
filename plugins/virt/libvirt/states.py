"""How libvirt's domain states and lifecycle events read in nubis's terms: the power
state of each ``VIR_DOMAIN_*`` state, and the lifecycle transition (if any) of each
``(event, detail)`` pair the event loop delivers."""

from __future__ import annotations

import libvirt

from nubis.core.virt import events, power_state

POWER_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: power_state.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: power_state.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: power_state.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: power_state.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: power_state.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: power_state.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: power_state.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: power_state.SUSPENDED,
}


def lifecycle_transition(event: int, detail: int) -> str | None:
    """Map a libvirt lifecycle (event, detail) to a LifecycleEvent transition, or None.

    The steps of a live migration (incoming guest started or resumed on the
    destination, source paused for the switch-over) are not reported; the source
    reports MIGRATION_COMPLETED when the guest has left.
    """
    if event == libvirt.VIR_DOMAIN_EVENT_STARTED:
        return None if detail == libvirt.VIR_DOMAIN_EVENT_STARTED_MIGRATED else events.STARTED
    if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
        if detail == libvirt.VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
            return events.MIGRATION_COMPLETED
        return events.STOPPED
    if event == libvirt.VIR_DOMAIN_EVENT_SUSPENDED:
        migrating = (
            libvirt.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED,
            libvirt.VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY,
        )
        return None if detail in migrating else events.PAUSED
    if event == libvirt.VIR_DOMAIN_EVENT_RESUMED:
        migrating = (
            libvirt.VIR_DOMAIN_EVENT_RESUMED_MIGRATED,
            libvirt.VIR_DOMAIN_EVENT_RESUMED_POSTCOPY,
        )
        return None if detail in migrating else events.RESUMED
    if event == libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED:
        return events.PAUSED
    return None  # DEFINED, UNDEFINED, SHUTDOWN (a STOPPED follows), CRASHED (likewise)
