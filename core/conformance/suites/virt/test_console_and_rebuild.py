"""The console output and rebuild parts of the virt driver contract.

``supports_console_output``: get_console_output() answers a string of at most
MAX_CONSOLE_BYTES characters for a running and for a stopped guest, and
InstanceNotFound once the guest is gone. ``supports_rebuild``: rebuild() leaves the
same guest (uuid, name, listing) running, whether it was running or off. A driver
declaring neither must refuse both with the exception the contract names.
"""

from __future__ import annotations

from typing import Any

import pytest

from nubis.core import exception
from nubis.core.conformance import harness
from nubis.core.conformance.suites.virt.fixtures import Harness
from nubis.core.virt import driver as virt_driver
from nubis.core.virt import power_state

CTX = None  # drivers may ignore the request context


def _state(drv: Any, inst: Any) -> str:
    return power_state.name(drv.get_info(inst).state)


def _check_output(output: Any, when: str) -> None:
    assert isinstance(output, str), (
        f"get_console_output() {when}: expected a str, observed {type(output).__name__}"
    )
    # Decoding never makes more characters than there were bytes.
    assert len(output) <= virt_driver.MAX_CONSOLE_BYTES, (
        f"get_console_output() {when}: expected at most {virt_driver.MAX_CONSOLE_BYTES} "
        f"characters, observed {len(output)}"
    )


@pytest.mark.nubis_capability("supports_console_output")
def test_console_output_of_running_and_stopped_guests(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_console_output")
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    _check_output(drv.get_console_output(inst), "of a running guest")
    drv.power_off(inst)
    _check_output(drv.get_console_output(inst), "of a stopped guest")
    drv.power_on(CTX, inst)
    drv.reboot(CTX, inst, reboot_type="HARD")
    _check_output(drv.get_console_output(inst), "after a reboot")
    drv.destroy(CTX, inst)
    with pytest.raises(exception.InstanceNotFound):
        drv.get_console_output(inst)


@pytest.mark.nubis_capability("supports_console_output")
def test_console_output_of_an_unknown_guest(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_console_output")
    ghost = nubis_virt.instance()
    with pytest.raises(exception.InstanceNotFound) as info:
        drv.get_console_output(ghost)
    assert ghost.uuid in str(info.value)


def test_undeclared_console_output_is_refused_honestly(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    if drv.has_capability("supports_console_output"):
        harness.skip(harness.NOT_APPLICABLE, f"{nubis_virt.label} has supports_console_output")
    inst = nubis_virt.instance()  # whatever the guest: no need to make one
    with pytest.raises(exception.ConsoleOutputNotSupported):
        drv.get_console_output(inst)


@pytest.mark.nubis_capability("supports_rebuild")
def test_rebuild_keeps_the_guest_and_starts_it(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_rebuild")
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    drv.rebuild(CTX, inst)
    assert _state(drv, inst) == "running"
    assert inst.uuid in drv.list_instance_uuids() and inst.name in drv.list_instances()
    drv.power_off(inst)
    drv.rebuild(CTX, inst, preserve_ephemeral=True)
    assert _state(drv, inst) == "running", "rebuild() of a stopped guest must start it"
    assert drv.list_instance_uuids().count(inst.uuid) == 1
    drv.destroy(CTX, inst)
    assert not drv.instance_exists(inst), (
        "instance_exists() after destroy() of a rebuilt guest: expected False, observed True"
    )


@pytest.mark.nubis_capability("supports_rebuild")
def test_rebuild_of_an_unknown_guest(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_rebuild")
    ghost = nubis_virt.instance()
    with pytest.raises(exception.InstanceNotFound):
        drv.rebuild(CTX, ghost)
    assert not drv.instance_exists(ghost), "rebuild() of an unknown guest created one"


def test_undeclared_rebuild_is_refused_honestly(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    if drv.has_capability("supports_rebuild"):
        harness.skip(harness.NOT_APPLICABLE, f"{nubis_virt.label} has supports_rebuild")
    inst = nubis_virt.instance()
    with pytest.raises(exception.RebuildNotSupported):
        drv.rebuild(CTX, inst)
