"""The pause, suspend, diagnostics and host-uptime parts of the virt driver contract
(nubis.core.virt.driver_power).

``supports_pause``: pause() leaves a running guest PAUSED and unpause() RUNNING, each
leaving a guest already there alone; a guest that is off cannot be paused.
``supports_suspend``: suspend() stops a running or paused guest (SUSPENDED, or SHUTDOWN
where the hypervisor shows a saved guest as off) and resume() brings it back RUNNING; a
HARD reboot boots a suspended guest afresh and destroy() removes it with its saved
state; a guest that is merely off cannot be resumed. ``supports_diagnostics``: the
model of a running guest matches it (state, vCPUs, memory) and survives the trip over
RPC. ``supports_host_uptime``: the uptime command's line. A driver declaring none of
them refuses each with VirtOperationNotSupported.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from nubis.core import exception
from nubis.core.conformance import harness
from nubis.core.conformance.suites.virt.fixtures import GUEST_MEMORY_MB, Harness
from nubis.core.virt import diagnostics, power_state

CTX = None  # drivers may ignore the request context

UPTIME_LINE = re.compile(
    r"^ \d\d:\d\d:\d\d up (\d+ days?, )?( ?\d+:\d\d|\d+ min), +\d+ users?,  "
    r"load average: \d+\.\d\d, \d+\.\d\d, \d+\.\d\d$"
)


def _state(drv: Any, inst: Any) -> str:
    return power_state.name(drv.get_info(inst).state)


def _off(drv: Any, inst: Any, when: str) -> None:
    observed = _state(drv, inst)
    assert observed in ("suspended", "shutdown"), (
        f"get_info() {when}: expected suspended (or shutdown), observed {observed}"
    )


@pytest.mark.nubis_capability("supports_pause")
def test_pause_and_unpause(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_pause")
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    drv.pause(inst)
    assert _state(drv, inst) == "paused"
    drv.pause(inst)  # paused already: left alone
    assert inst.uuid in drv.list_instance_uuids(), "a paused guest is still listed"
    drv.unpause(inst)
    assert _state(drv, inst) == "running"
    drv.unpause(inst)  # running: left alone
    drv.pause(inst)
    drv.destroy(CTX, inst)
    assert not drv.instance_exists(inst), "destroy() of a paused guest left it behind"


@pytest.mark.nubis_capability("supports_pause")
def test_a_guest_that_is_off_cannot_be_paused(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_pause")
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    drv.power_off(inst)
    with pytest.raises(exception.InstanceInvalidState):
        drv.pause(inst)
    with pytest.raises(exception.InstanceInvalidState):
        drv.unpause(inst)
    assert _state(drv, inst) == "shutdown"
    ghost = nubis_virt.instance()
    with pytest.raises(exception.InstanceNotFound):
        drv.pause(ghost)
    with pytest.raises(exception.InstanceNotFound):
        drv.unpause(ghost)
    drv.destroy(CTX, inst)


@pytest.mark.nubis_capability("supports_suspend")
def test_suspend_and_resume(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_suspend")
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    drv.suspend(CTX, inst)
    _off(drv, inst, "after suspend()")
    drv.suspend(CTX, inst)  # suspended already: left alone
    _off(drv, inst, "after a second suspend()")
    assert inst.uuid in drv.list_instance_uuids(), "a suspended guest is still listed"
    drv.resume(CTX, inst)
    assert _state(drv, inst) == "running"
    drv.resume(CTX, inst)  # running: left alone
    assert _state(drv, inst) == "running"
    if drv.has_capability("supports_pause"):
        drv.pause(inst)
        drv.suspend(CTX, inst)
        _off(drv, inst, "after suspend() of a paused guest")
        drv.resume(CTX, inst)
        assert _state(drv, inst) == "running", "resume() must run a guest suspended paused"
    drv.destroy(CTX, inst)


@pytest.mark.nubis_capability("supports_suspend")
def test_a_suspended_guest_reboots_afresh_and_is_destroyed(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_suspend")
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    drv.suspend(CTX, inst)
    drv.reboot(CTX, inst, reboot_type="HARD")
    assert _state(drv, inst) == "running", "a HARD reboot of a suspended guest must run it"
    drv.suspend(CTX, inst)
    drv.destroy(CTX, inst)
    assert not drv.instance_exists(inst), "destroy() of a suspended guest left it behind"
    assert inst.uuid not in drv.list_instance_uuids()


@pytest.mark.nubis_capability("supports_suspend")
def test_a_guest_that_is_only_off_cannot_be_resumed(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_suspend")
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    drv.power_off(inst)
    with pytest.raises(exception.InstanceInvalidState):
        drv.resume(CTX, inst)
    with pytest.raises(exception.InstanceInvalidState):
        drv.suspend(CTX, inst)
    assert _state(drv, inst) == "shutdown"
    with pytest.raises(exception.InstanceNotFound):
        drv.suspend(CTX, nubis_virt.instance())
    drv.destroy(CTX, inst)


@pytest.mark.nubis_capability("supports_diagnostics")
def test_diagnostics_of_a_running_guest(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_diagnostics")
    inst = nubis_virt.instance(vcpus=2, launched_at=None)
    drv.spawn(CTX, inst)
    found = drv.get_diagnostics(inst)
    assert isinstance(found, diagnostics.Diagnostics), (
        f"get_diagnostics(): expected a Diagnostics, observed {type(found).__name__}"
    )
    assert found.state == "running"
    assert found.num_cpus == 2, f"expected one cpu_details entry per vCPU, observed {found}"
    assert [cpu.id for cpu in found.cpu_details] == [0, 1]
    assert found.memory_details.maximum == GUEST_MEMORY_MB
    assert found.num_disks == 0, "a diskless guest has no disk_details"
    assert diagnostics.Diagnostics.from_primitive(found.to_primitive()) == found
    view = found.standard_view()
    assert set(view["memory_details"]) == {"maximum", "used"}
    assert view["num_cpus"] == 2
    with pytest.raises(exception.InstanceNotFound):
        drv.get_diagnostics(nubis_virt.instance(launched_at=None))
    drv.destroy(CTX, inst)


@pytest.mark.nubis_capability("supports_host_uptime")
def test_host_uptime_is_the_uptime_line(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_host_uptime")
    line = drv.get_host_uptime()
    assert isinstance(line, str) and UPTIME_LINE.match(line), (
        f"get_host_uptime(): expected the uptime command's line, observed {line!r}"
    )


_UNDECLARED = {
    "pause": ("supports_pause", lambda drv, inst: drv.pause(inst)),
    "unpause": ("supports_pause", lambda drv, inst: drv.unpause(inst)),
    "suspend": ("supports_suspend", lambda drv, inst: drv.suspend(CTX, inst)),
    "resume": ("supports_suspend", lambda drv, inst: drv.resume(CTX, inst)),
    "get_diagnostics": ("supports_diagnostics", lambda drv, inst: drv.get_diagnostics(inst)),
    "get_host_uptime": ("supports_host_uptime", lambda drv, inst: drv.get_host_uptime()),
}


def test_undeclared_abilities_are_refused_honestly(nubis_virt: Harness) -> None:
    """Each power method whose capability the driver does not declare raises
    VirtOperationNotSupported naming the method (one test, not one per method: a
    suite's tests are its functions, which waivers and reports name)."""
    drv = nubis_virt.driver
    undeclared = {
        method: call
        for method, (capability, call) in sorted(_UNDECLARED.items())
        if not drv.has_capability(capability)
    }
    if not undeclared:
        harness.skip(harness.NOT_APPLICABLE, f"{nubis_virt.label} declares every power capability")
    inst = nubis_virt.instance()  # whatever the guest: no need to make one
    for method, call in undeclared.items():
        with pytest.raises(exception.VirtOperationNotSupported) as refused:
            call(drv, inst)
        assert method in str(refused.value), (
            f"{method}(): the refusal does not name the method: {refused.value}"
        )
