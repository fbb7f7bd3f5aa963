"""Pause, suspend, diagnostics and the host's uptime of the ``fake`` driver
(:class:`FakePower`, a base class of :class:`~nubis.plugins.virt.fake.FakeDriver`).

A fake guest's power state moves as libvirt's would (RUNNING, PAUSED, SUSPENDED), with
the LifecycleEvents libvirt sends: PAUSED for a pause, STOPPED for a suspend (a managed
save stops the domain), RESUMED for an unpause or a resume. None of it is a boot: the
console log shows nothing. A fake guest does no work, so its diagnostics show zero CPU
time and I/O; its uptime counts from its last boot. The fake host is up since its
init_host(), with nobody logged in and no load.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from nubis.core import exception
from nubis.core.virt import diagnostics, events, power_state, uptime


class _Fake(Protocol):
    """What these methods use of the fake driver (its guests are ``FakeGuest``s; this
    module does not import the driver's, which imports it)."""

    _lock: threading.RLock
    host_started_at: float

    def _guest(self, instance: Any) -> Any: ...

    def _ready(self) -> str: ...

    def emit_event(self, event: events.Event) -> None: ...

    def _power_transition(
        self, instance: Any, operation: str, start: tuple[int, ...], end: int
    ) -> None: ...


class FakePower:
    """The fake driver's ``supports_pause``, ``supports_suspend``,
    ``supports_diagnostics`` and ``supports_host_uptime`` methods."""

    def _power_transition(
        self: _Fake, instance: Any, operation: str, start: tuple[int, ...], end: int
    ) -> None:
        """Move the guest from a state in *start* to *end* (left alone when it is
        there already), with the LifecycleEvent libvirt would send."""
        with self._lock:
            guest = self._guest(instance)
            if guest.state == end:
                return
            if guest.state not in start:
                raise exception.InstanceInvalidState(
                    action=operation,
                    instance_uuid=instance.uuid,
                    state=f"in power state {power_state.name(guest.state)}",
                    expected="in power state " + " or ".join(map(power_state.name, start)),
                )
            resumed = guest.state in (power_state.PAUSED, power_state.SUSPENDED)
            guest.state = end
            transition = {power_state.PAUSED: events.PAUSED, power_state.SUSPENDED: events.STOPPED}
            self.emit_event(
                events.LifecycleEvent(
                    guest.uuid, transition.get(end, events.RESUMED if resumed else events.STARTED)
                )
            )

    def pause(self: _Fake, instance: Any) -> None:
        self._power_transition(instance, "pause", (power_state.RUNNING,), power_state.PAUSED)

    def unpause(self: _Fake, instance: Any) -> None:
        self._power_transition(instance, "unpause", (power_state.PAUSED,), power_state.RUNNING)

    def suspend(self: _Fake, context: Any, instance: Any) -> None:
        running = (power_state.RUNNING, power_state.PAUSED)
        self._power_transition(instance, "suspend", running, power_state.SUSPENDED)

    def resume(
        self: _Fake,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
    ) -> None:
        self._power_transition(instance, "resume", (power_state.SUSPENDED,), power_state.RUNNING)

    def get_diagnostics(self: _Fake, instance: Any) -> diagnostics.Diagnostics:
        """A fake guest does no work: its CPU time and I/O counters are 0. It says
        ``libvirt`` (as Nova's fake does: the API's list of drivers has no fake)."""
        with self._lock:
            guest = self._guest(instance)
            up = guest.state in (power_state.RUNNING, power_state.PAUSED)
            return diagnostics.Diagnostics(
                state=power_state.name(guest.state),
                driver="libvirt",
                hypervisor="fake",
                hypervisor_os="linux",
                uptime=int(time.monotonic() - guest.booted_at) if up else None,
                cpu_details=tuple(
                    diagnostics.CpuDiagnostics(id=n, time=0, utilisation=0)
                    for n in range(guest.vcpus)
                ),
                disk_details=(
                    (diagnostics.DiskDiagnostics(0, 0, 0, 0, 0, name="vda"),)
                    if guest.image_ref
                    else ()
                ),
                memory_details=diagnostics.MemoryDiagnostics(
                    maximum=guest.memory_mb, used=guest.memory_mb if up else 0
                ),
            )

    def get_host_uptime(self: _Fake) -> str:
        """Up since init_host(); nobody logs in to a fake host and it has no load."""
        self._ready()
        return uptime.uptime_line(time.monotonic() - self.host_started_at, 0, (0.0, 0.0, 0.0))
