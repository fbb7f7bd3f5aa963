"""The parts of the virt driver contract for pause, suspend, diagnostics and the host's
uptime (capabilities ``supports_pause``, ``supports_suspend``, ``supports_diagnostics``,
``supports_host_uptime``).

:class:`~nubis.core.virt.driver.ComputeDriver` inherits :class:`PowerAndDiagnostics`:
the docstrings below are the contract as much as those of :mod:`.driver`, whose ground
rules (the ``instance`` argument, threads, errors) apply. A driver that does not declare
a capability inherits the method, which raises VirtOperationNotSupported; one that
declares it implements the capability's methods itself
(:data:`~nubis.core.virt.driver.CAPABILITY_METHODS`).
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception
from nubis.core.virt import diagnostics

__all__ = ["PowerAndDiagnostics"]


class PowerAndDiagnostics:
    """Pause, suspend, diagnostics and host uptime; see the module docstring."""

    def _not_supported(self, operation: str) -> exception.VirtOperationNotSupported:
        return exception.VirtOperationNotSupported(operation=operation, driver=type(self).__name__)

    def pause(self, instance: Any) -> None:
        """Freeze the running guest in memory; returns once get_info(...).state is PAUSED.

        Its vCPUs stop, its memory stays where it is; :meth:`unpause` lets it run on
        from there. A paused guest is left alone. Raises InstanceInvalidState for a
        guest that is neither running nor paused and InstanceNotFound for an unknown
        one. Needs ``supports_pause`` (without it: VirtOperationNotSupported, whatever
        the guest).
        """
        raise self._not_supported("pause")

    def unpause(self, instance: Any) -> None:
        """Let a paused guest run on; returns once it is RUNNING.

        A running guest is left alone. Raises InstanceInvalidState for a guest that is
        neither paused nor running and InstanceNotFound for an unknown one. Needs
        ``supports_pause`` (VirtOperationNotSupported otherwise).
        """
        raise self._not_supported("unpause")

    def suspend(self, context: Any, instance: Any) -> None:
        """Save the running (or paused) guest's state and stop it, releasing its CPUs;
        returns once it no longer runs.

        get_info(...).state is then SUSPENDED, or SHUTDOWN where the hypervisor shows a
        saved guest as off (libvirt's managed save, as in Nova). A suspended guest is
        left alone. The saved state goes with destroy(); a HARD reboot discards it and
        boots the guest afresh. Raises InstanceInvalidState for a guest that is off
        and InstanceNotFound for an unknown one. Needs ``supports_suspend``
        (VirtOperationNotSupported otherwise).
        """
        raise self._not_supported("suspend")

    def resume(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
    ) -> None:
        """Bring a suspended guest back from its saved state; returns once it is RUNNING.

        A running guest is left alone. Raises InstanceInvalidState for a guest that
        was not suspended (off with no saved state, or paused) and InstanceNotFound for
        an unknown one. Needs ``supports_suspend`` (VirtOperationNotSupported
        otherwise).
        """
        raise self._not_supported("resume")

    def get_diagnostics(self, instance: Any) -> diagnostics.Diagnostics:
        """Return the :class:`~nubis.core.virt.diagnostics.Diagnostics` of the guest.

        Its ``state`` is what get_info() says; one entry in ``cpu_details`` per vCPU,
        in ``disk_details`` per disk and in ``nic_details`` per NIC the guest has;
        ``memory_details.maximum`` is the memory it was given (MiB); counters the
        hypervisor does not keep are None. ``uptime`` counts from the guest's start
        (``instance.launched_at`` when the driver keeps no start time itself). Raises
        InstanceNotFound for an unknown guest. Needs ``supports_diagnostics``
        (VirtOperationNotSupported otherwise). The manager asks only of running guests.
        """
        raise self._not_supported("get_diagnostics")

    def get_host_uptime(self) -> str:
        """Return this host's uptime as the ``uptime`` command prints it (see
        :func:`nubis.core.virt.uptime.uptime_line`): the time of day, how long the host
        has been up, its users and its load averages. Needs ``supports_host_uptime``
        (VirtOperationNotSupported otherwise).
        """
        raise self._not_supported("get_host_uptime")
