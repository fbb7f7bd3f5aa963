"""Pause, suspend, diagnostics and the host's uptime on the embedded default (two
compute hosts on libvirt's test driver, composed from etc/nubis/all-in-one.conf; see
test_all_in_one.py), through the compute API, the compute RPC API and the manager:
the libvirt domain goes paused, managed-saved and back, a HARD reboot of a suspended
server boots it afresh, and deleting a suspended server leaves no domain behind."""

from __future__ import annotations

from typing import Any

import libvirt

from nubis.core import objects
from nubis.core.compute.api import API
from nubis.core.compute.states import VMState
from nubis.core.context import RequestContext, get_admin_context
from nubis.core.launcher import Launcher
from nubis.core.virt import power_state
from tests.fixtures.inproc_cloud import active, instance_of, wait_for
from tests.functional.test_all_in_one import all_in_one  # noqa: F401 - the fixture


def _settled(instance_uuid: str, vm_state: str) -> Any:
    found = instance_of(instance_uuid)
    return found if found.vm_state == vm_state and found.task_state is None else None


def _domain(launcher: Launcher, instance: Any) -> libvirt.virDomain:
    service = next(s for s in launcher.services if getattr(s, "host", None) == instance.host)
    return service.manager.driver._conn().lookupByUUIDString(instance.uuid)


def test_pause_suspend_and_diagnostics_on_libvirt(all_in_one: Launcher) -> None:  # noqa: F811
    ctx = RequestContext(user_id="demo", project_id="demo", is_admin=True)
    flavor = objects.Flavor(get_admin_context())
    flavor.flavorid, flavor.name = "1", "m1.small"
    flavor.memory_mb, flavor.vcpus, flavor.root_gb, flavor.ephemeral_gb = 512, 2, 1, 0
    flavor.create()
    api = API()
    (created,) = api.create(ctx, flavor=flavor, image_ref=None, name="power")
    instance = wait_for(lambda: active(created.uuid), timeout=20, what="active")
    dom = _domain(all_in_one, instance)

    api.pause(ctx, instance)
    instance = wait_for(lambda: _settled(created.uuid, VMState.PAUSED), what="paused")
    assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
    assert instance.power_state == power_state.PAUSED
    api.unpause(ctx, instance)
    instance = wait_for(lambda: _settled(created.uuid, VMState.ACTIVE), what="unpaused")

    found = api.get_diagnostics(ctx, instance)
    assert (found.state, found.driver, found.hypervisor, found.num_cpus) == (
        "running",
        "libvirt",
        "test",
        2,
    )
    assert found.memory_details.maximum == 512
    assert "load average:" in api.get_host_uptime(ctx, instance.host)

    api.suspend(ctx, instance)
    instance = wait_for(lambda: _settled(created.uuid, VMState.SUSPENDED), what="suspended")
    assert dom.hasManagedSaveImage(0) and not dom.isActive()
    api.resume(ctx, instance)
    instance = wait_for(lambda: _settled(created.uuid, VMState.ACTIVE), what="resumed")
    assert dom.isActive() and not dom.hasManagedSaveImage(0)

    api.suspend(ctx, instance)
    instance = wait_for(lambda: _settled(created.uuid, VMState.SUSPENDED), what="suspended")
    api.reboot(ctx, instance, "HARD")
    instance = wait_for(lambda: _settled(created.uuid, VMState.ACTIVE), what="rebooted")
    assert dom.isActive() and not dom.hasManagedSaveImage(0)

    api.suspend(ctx, instance)
    instance = wait_for(lambda: _settled(created.uuid, VMState.SUSPENDED), what="suspended")
    api.delete(ctx, instance)
    wait_for(
        lambda: not objects.InstanceList.get_all(get_admin_context()), what="the server deleted"
    )
    conn = dom.connect()
    assert created.uuid not in [d.UUIDString() for d in conn.listAllDomains(0)]
