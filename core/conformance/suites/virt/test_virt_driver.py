"""The virt driver contract (nubis.core.virt.driver).

Every test runs once per target of the plugin (see the package docstring). A
capability the driver does not declare skips its tests with the reason; a declared one
must pass.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

import pytest

from nubis.core import exception, plugins
from nubis.core.conformance import harness
from nubis.core.conformance.suites.virt.fixtures import WAIT, Harness, wait_for
from nubis.core.virt import driver as virt_driver
from nubis.core.virt import events, hardware, power_state
from nubis.core.virt import migration as lm

CTX = None  # drivers may ignore the request context


def state_of(driver: Any, instance: Any) -> str:
    return power_state.name(driver.get_info(instance).state)


def test_instance_never_adds_a_capability(nubis_virt: Harness) -> None:
    ns = plugins.namespace("nubis.virt")
    assert plugins.contract_problems(ns, nubis_virt.plugin_class) == []
    declared = dict(nubis_virt.plugin_class.capabilities)
    assert set(declared) <= set(virt_driver.CAPABILITIES)
    # An instance may withdraw a capability, never add one.
    for name, value in dict(nubis_virt.driver.capabilities).items():
        assert not value or declared.get(name), f"{name} added by the instance"


def test_guest_lifecycle(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    assert state_of(drv, inst) == "running"
    assert inst.uuid in drv.list_instance_uuids()
    assert inst.name in drv.list_instances()
    assert drv.instance_exists(inst), (
        "instance_exists() of a spawned guest: expected True, observed False"
    )

    drv.power_off(inst)
    assert state_of(drv, inst) == "shutdown"
    assert inst.uuid in drv.list_instance_uuids(), "a stopped guest is still listed"
    drv.power_off(inst)  # already off: left alone
    drv.power_on(CTX, inst)
    assert state_of(drv, inst) == "running"
    drv.power_on(CTX, inst)  # already running: left alone

    drv.reboot(CTX, inst, reboot_type="SOFT")
    assert state_of(drv, inst) == "running"
    drv.reboot(CTX, inst, reboot_type="HARD")
    assert state_of(drv, inst) == "running"
    with pytest.raises(exception.InvalidRebootType):
        drv.reboot(CTX, inst, reboot_type="GENTLE")

    drv.destroy(CTX, inst)
    assert not drv.instance_exists(inst), (
        "instance_exists() after destroy(): expected False, observed True"
    )
    assert inst.uuid not in drv.list_instance_uuids(), (
        f"list_instance_uuids() after destroy(): expected no {inst.uuid}, observed "
        f"{drv.list_instance_uuids()}"
    )
    drv.destroy(CTX, inst)  # already gone: succeeds
    with pytest.raises(exception.InstanceNotFound):
        drv.get_info(inst)


def test_hard_reboot_starts_a_stopped_guest(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    drv.power_off(inst)
    drv.reboot(CTX, inst, reboot_type="HARD")
    assert state_of(drv, inst) == "running"
    drv.destroy(CTX, inst)


def test_unknown_guest_raises_instance_not_found(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    ghost = nubis_virt.instance()
    with pytest.raises(exception.InstanceNotFound) as info:
        drv.get_info(ghost)
    assert ghost.uuid in str(info.value)
    for call in (
        lambda: drv.power_off(ghost),
        lambda: drv.power_on(CTX, ghost),
        lambda: drv.reboot(CTX, ghost, reboot_type="HARD"),
    ):
        with pytest.raises(exception.InstanceNotFound):
            call()
    assert not drv.instance_exists(ghost), (
        "instance_exists() of a guest never spawned: expected False, observed True"
    )
    drv.destroy(CTX, ghost)


def test_spawning_an_existing_guest_raises_instance_exists(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    with pytest.raises(exception.InstanceExists):
        drv.spawn(CTX, inst)
    assert state_of(drv, inst) == "running"
    drv.destroy(CTX, inst)


@pytest.mark.nubis_capability("supports_clean_shutdown")
def test_clean_shutdown_then_forced(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_clean_shutdown")
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    drv.power_off(inst, timeout=1, retry_interval=0.5)
    assert state_of(drv, inst) == "shutdown"
    drv.destroy(CTX, inst)


def test_available_resource_has_exactly_the_keys(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nodes = drv.get_available_nodes()
    assert nodes and all(isinstance(n, str) and n for n in nodes)
    assert drv.get_available_nodes(refresh=True) == nodes
    if not drv.has_capability("supports_multiple_nodes"):
        assert len(nodes) == 1
    for node in nodes:
        assert drv.node_is_available(node), (
            f"node_is_available({node!r}) of a node get_available_nodes() lists: expected "
            "True, observed False"
        )
        resources = drv.get_available_resource(node)
        assert set(resources) == hardware.RESOURCE_KEYS
        assert hardware.resource_problems(resources) == []
        assert resources["hypervisor_hostname"] == node
        assert resources["vcpus"] > 0 and resources["memory_mb"] > 0, (
            f"vcpus and memory_mb of {node}: expected > 0, observed {resources['vcpus']} "
            f"and {resources['memory_mb']}"
        )
    assert not drv.node_is_available("no-such-node.invalid"), (
        "node_is_available() of a node that does not exist: expected False, observed True"
    )


def test_resources_count_a_guest(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    node = drv.get_available_nodes()[0]
    before = drv.get_available_resource(node)["vcpus_used"]
    inst = nubis_virt.instance(node=node, vcpus=1)
    drv.spawn(CTX, inst)
    assert drv.get_available_resource(node)["vcpus_used"] >= before + 1
    drv.destroy(CTX, inst)


@pytest.mark.nubis_capability("supports_reboot_soft")
def test_soft_reboot_of_a_guest_that_does_not_cooperate(nubis_virt: Harness) -> None:
    """The diskless guest runs no OS to honour the request: the driver falls back to a
    power cycle in its configured time and the guest runs again."""
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_reboot_soft")
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    drv.reboot(CTX, inst, reboot_type="SOFT")
    assert state_of(drv, inst) == "running"
    assert inst.uuid in drv.list_instance_uuids()
    drv.destroy(CTX, inst)


@pytest.mark.nubis_capability("supports_multiple_nodes")
def test_every_node_reports_its_own_resources(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_multiple_nodes")
    nodes = drv.get_available_nodes(refresh=True)
    assert len(set(nodes)) == len(nodes), f"node names repeat: {nodes}"
    for node in nodes:
        assert drv.get_available_resource(node)["hypervisor_hostname"] == node
    node = nodes[-1]
    before = drv.get_available_resource(node)["vcpus_used"]
    inst = nubis_virt.instance(node=node, vcpus=1)
    drv.spawn(CTX, inst)
    assert drv.get_available_resource(node)["vcpus_used"] >= before + 1
    drv.destroy(CTX, inst)


def test_host_ip_is_an_address(nubis_virt: Harness) -> None:
    ipaddress.ip_address(nubis_virt.driver.get_host_ip_addr())
    assert nubis_virt.driver.is_hypervisor_available(), (
        "is_hypervisor_available() after init_host: expected True, observed False"
    )


@pytest.mark.nubis_capability("supports_lifecycle_events")
def test_lifecycle_events_arrive(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_lifecycle_events")
    received: list[events.Event] = []
    listener_threads: set[int] = set()

    def listener(event: events.Event) -> None:
        listener_threads.add(threading.get_ident())
        received.append(event)

    drv.register_event_listener(listener)
    inst = nubis_virt.instance()

    def transitions() -> list[str]:
        return [
            e.transition
            for e in list(received)
            if isinstance(e, events.LifecycleEvent) and e.instance_uuid == inst.uuid
        ]

    drv.spawn(CTX, inst)
    wait_for(lambda: events.STARTED in transitions(), what="STARTED after spawn")
    drv.power_off(inst)
    wait_for(lambda: events.STOPPED in transitions(), what="STOPPED after power_off")
    count = transitions().count(events.STARTED)
    drv.power_on(CTX, inst)
    wait_for(lambda: transitions().count(events.STARTED) > count, what="STARTED after power_on")
    drv.destroy(CTX, inst)
    assert drv.flush_events(WAIT), (
        f"flush_events({WAIT}): expected True (every event delivered), observed False"
    )
    mine = [e for e in received if isinstance(e, events.LifecycleEvent)]
    assert all(isinstance(e.timestamp, float) and e.timestamp > 0 for e in mine)
    assert threading.get_ident() not in listener_threads, "listener ran in the caller's thread"
    drv.register_event_listener(None)


# --- live migration ----------------------------------------------------------------------


def _migrate(
    nubis_virt: Harness, abort_on_progress: bool = False
) -> tuple[Any, Any, Any, dict[str, Any], list[tuple[str, tuple[Any, ...]]], list[Any]]:
    """Spawn on the primary host and live-migrate to a peer; return what happened."""
    src = nubis_virt.driver
    nubis_virt.require(src, "supports_live_migration")
    dst = nubis_virt.peer()
    inst = nubis_virt.instance()
    src.spawn(CTX, inst)
    src_node, dst_node = src.get_available_nodes()[0], dst.get_available_nodes()[0]
    data = dst.check_can_live_migrate_destination(
        CTX, inst, src.get_available_resource(src_node), dst.get_available_resource(dst_node)
    )
    dest_host = data[lm.DEST_HOST]
    assert data[lm.BLOCK_MIGRATION] is False
    data = src.check_can_live_migrate_source(CTX, inst, data)
    data = dst.pre_live_migration(CTX, inst, None, None, None, data)
    progress: list[Any] = []
    calls: list[tuple[str, tuple[Any, ...]]] = []

    def on_progress(sample: lm.MigrationProgress) -> None:
        progress.append(sample)
        if abort_on_progress and len(progress) == 1:
            src.live_migration_abort(inst)

    data[lm.PROGRESS_CALLBACK] = on_progress
    src.live_migration(
        CTX,
        inst,
        dest_host,
        lambda *args: calls.append(("post", args)),
        lambda *args: calls.append(("recover", args)),
        migrate_data=data,
    )
    return src, dst, inst, data, calls, progress


@pytest.mark.nubis_capability("supports_live_migration")
def test_live_migration_moves_a_running_guest(nubis_virt: Harness) -> None:
    src, dst, inst, data, calls, progress = _migrate(nubis_virt)
    assert [c[0] for c in calls] == ["post"], data.get(lm.ERROR)
    _ctx, post_inst, dest, block_migration, post_data = calls[0][1]
    assert post_inst is inst and dest == data[lm.DEST_HOST] and block_migration is False
    assert post_data[lm.RESULT] == lm.RESULT_COMPLETED
    assert progress, "no progress was reported"
    assert all(isinstance(p, lm.MigrationProgress) for p in progress)
    assert any(p.memory_total > 0 for p in progress)
    dst.post_live_migration_at_destination(CTX, inst, None)
    assert state_of(dst, inst) == "running"
    assert inst.uuid in dst.list_instance_uuids()
    assert not src.instance_exists(inst), (
        "instance_exists() on the source after the migration: expected False, observed True"
    )
    dst.destroy(CTX, inst)


@pytest.mark.nubis_capability("supports_live_migration")
def test_aborted_live_migration_leaves_the_guest_on_the_source(nubis_virt: Harness) -> None:
    src, dst, inst, data, calls, progress = _migrate(nubis_virt, abort_on_progress=True)
    assert [c[0] for c in calls] == ["recover"]
    _ctx, rec_inst, _dest, rec_data = calls[0][1]
    assert rec_inst is inst
    assert rec_data[lm.RESULT] == lm.RESULT_CANCELLED and rec_data[lm.ERROR]
    dst.rollback_live_migration_at_destination(CTX, inst, None, None, migrate_data=data)
    assert state_of(src, inst) == "running"
    assert not dst.instance_exists(inst), (
        "instance_exists() on the destination after the rollback: expected False, observed True"
    )
    with pytest.raises(exception.NoActiveMigrationForInstance):
        src.live_migration_abort(inst)
    src.destroy(CTX, inst)


@pytest.mark.nubis_capability("supports_live_migration")
def test_source_check_refuses_its_own_host(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_live_migration")
    inst = nubis_virt.instance()
    drv.spawn(CTX, inst)
    node = drv.get_available_nodes()[0]
    resources = drv.get_available_resource(node)
    data = drv.check_can_live_migrate_destination(CTX, inst, resources, resources)
    with pytest.raises(exception.MigrationPreCheckError):
        drv.check_can_live_migrate_source(CTX, inst, data)
    drv.destroy(CTX, inst)


def test_undeclared_live_migration_is_refused_honestly(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    if drv.has_capability("supports_live_migration"):
        harness.skip(harness.NOT_APPLICABLE, f"{nubis_virt.label} has supports_live_migration")
    inst = nubis_virt.instance()
    with pytest.raises(exception.LiveMigrationNotSupported):
        drv.check_can_live_migrate_destination(CTX, inst, {}, {})
    with pytest.raises(exception.LiveMigrationNotSupported):
        drv.check_can_live_migrate_source(CTX, inst, {})
