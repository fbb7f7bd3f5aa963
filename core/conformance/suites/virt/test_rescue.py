"""The rescue part of the virt driver contract (``supports_rescue``,
:mod:`nubis.core.virt.driver_rescue`).

rescue() leaves the same guest (uuid, name, listed once) running, whether it was
running or off, and again when it is rescued already; unrescue() leaves it running and
listed once, and does no harm to a guest that is not rescued; destroy() of a rescued
guest removes it. The suite's guests are diskless, so they are rescued without a rescue
disk (an empty rescue image), as the contract allows. An unknown guest raises
InstanceNotFound and creates nothing. A driver without the capability must refuse both
with VirtOperationNotSupported.
"""

from __future__ import annotations

from typing import Any

import pytest

from nubis.core import exception
from nubis.core.conformance import harness
from nubis.core.conformance.suites.virt.fixtures import Harness
from nubis.core.virt import power_state

CTX = None  # drivers may ignore the request context


def _running_once(drv: Any, inst: Any, when: str) -> None:
    state = power_state.name(drv.get_info(inst).state)
    assert state == "running", f"{when}: expected the guest running, observed {state}"
    uuids = drv.list_instance_uuids()
    assert uuids.count(inst.uuid) == 1, (
        f"{when}: expected the guest listed once by list_instance_uuids(), observed "
        f"{uuids.count(inst.uuid)} times"
    )
    assert inst.name in drv.list_instances(), f"{when}: list_instances() lost the guest's name"


@pytest.mark.nubis_capability("supports_rescue")
def test_rescue_and_unrescue_keep_the_guest_running(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_rescue")
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    drv.rescue(CTX, inst, "")
    _running_once(drv, inst, "after rescue() of a running guest")
    drv.rescue(CTX, inst, None)
    _running_once(drv, inst, "after rescue() of a rescued guest")
    drv.unrescue(CTX, inst)
    _running_once(drv, inst, "after unrescue()")
    drv.unrescue(CTX, inst)
    _running_once(drv, inst, "after unrescue() of a guest that is not rescued")

    drv.power_off(inst)
    drv.rescue(CTX, inst, "")
    _running_once(drv, inst, "after rescue() of a guest that was off")
    drv.power_off(inst)
    drv.unrescue(CTX, inst)
    _running_once(drv, inst, "after unrescue() of a rescued guest that was off")
    drv.destroy(CTX, inst)


@pytest.mark.nubis_capability("supports_rescue")
def test_a_rescued_guest_is_destroyed_like_any_other(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_rescue")
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    drv.rescue(CTX, inst, "")
    drv.destroy(CTX, inst)
    assert not drv.instance_exists(inst), (
        "instance_exists() after destroy() of a rescued guest: expected False, observed True"
    )
    assert inst.uuid not in drv.list_instance_uuids()


@pytest.mark.nubis_capability("supports_rescue")
def test_rescue_of_an_unknown_guest(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_rescue")
    ghost = nubis_virt.instance()
    with pytest.raises(exception.InstanceNotFound):
        drv.rescue(CTX, ghost, "")
    with pytest.raises(exception.InstanceNotFound):
        drv.unrescue(CTX, ghost)
    assert not drv.instance_exists(ghost), "rescue() of an unknown guest created one"


def test_undeclared_rescue_is_refused_honestly(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    if drv.has_capability("supports_rescue"):
        harness.skip(harness.NOT_APPLICABLE, f"{nubis_virt.label} has supports_rescue")
    inst = nubis_virt.instance()  # whatever the guest: no need to make one
    with pytest.raises(exception.VirtOperationNotSupported):
        drv.rescue(CTX, inst, "")
    with pytest.raises(exception.VirtOperationNotSupported):
        drv.unrescue(CTX, inst)
