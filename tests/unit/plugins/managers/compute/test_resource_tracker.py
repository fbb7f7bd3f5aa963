"""The resource tracker on the fake driver: claims and their rollback, the lock timeout,
the audit (instances, in-progress migrations both ways, orphans), saving the ComputeNode
only when something changed, and deleting compute nodes the driver stopped reporting."""

from __future__ import annotations

import threading
import time
import types
import uuid
from typing import Any

import pytest
from oslo_config import cfg

from nubis.core import exception, objects, plugins
from nubis.core.compute.states import LIVE_MIGRATION, MigrationStatus
from nubis.plugins.managers.compute.resource_tracker import ResourceTracker, node_uuid
from nubis.plugins.periodic_tasks.compute import update_available_resource
from tests.unit.plugins.managers.compute.conftest import new_instance

NODE_SAVE = ("ComputeNode", "save")


@pytest.fixture
def host(fake_host):
    """A fake host with 8 vCPUs, 16 GiB and 1 TiB (the fake driver's defaults)."""
    return fake_host()


@pytest.fixture
def rt(host) -> ResourceTracker:
    return ResourceTracker(host.host, host, host.host, lock_timeout=5)


def guest(instance_uuid: str | None = None, memory_mb: int = 256, vcpus: int = 1) -> Any:
    """A guest the database does not know (the driver contract's attributes only)."""
    return types.SimpleNamespace(
        uuid=instance_uuid or str(uuid.uuid4()),
        name=f"stray-{uuid.uuid4().hex[:6]}",
        memory_mb=memory_mb,
        vcpus=vcpus,
        root_gb=0,
        image_ref="",
        host=None,
        node=None,
        power_state=0,
    )


def test_first_audit_creates_the_node_then_saves_only_changes(ctx, host, rt, indirection):
    first = rt.update_available_resource(ctx, service_id=7)
    assert first.created and rt.node_saves == 1
    node = objects.ComputeNode.get_by_host_and_nodename(ctx, host.host, host.host)
    assert node.uuid == node_uuid(host.host, host.host)
    assert (node.vcpus, node.memory_mb, node.local_gb) == (8, 16384, 1024)
    assert (node.vcpus_used, node.memory_mb_used, node.running_vms) == (0, 0, 0)
    assert node.service_id == 7 and node.hypervisor_type == "fake"
    assert str(node.host_ip) == "127.0.0.1"
    assert node.cpu_allocation_ratio == 16.0 and node.ram_allocation_ratio == 1.5

    # Nothing changed: no save crosses the indirection API, the row is untouched.
    saves = indirection.calls[NODE_SAVE]
    for _ in range(3):
        again = rt.update_available_resource(ctx, service_id=7)
        assert not again.created and not again.saved and again.changed == []
    assert indirection.calls[NODE_SAVE] == saves
    assert rt.node_saves == 1
    assert objects.ComputeNode.get_by_id(ctx, node.id).updated_at == node.updated_at

    # A guest arrives: exactly the fields that changed are saved, once.
    inst = new_instance(ctx, host.host, host.host, memory_mb=1024, vcpus=2, root_gb=10)
    host.spawn(ctx, inst)
    changed = rt.update_available_resource(ctx, service_id=7)
    assert changed.saved
    assert set(changed.changed) == {
        "vcpus_used",
        "memory_mb_used",
        "local_gb_used",
        "free_ram_mb",
        "free_disk_gb",
        "running_vms",
        "disk_available_least",
        "stats",
    }
    assert indirection.calls[NODE_SAVE] == saves + 1
    node.refresh()
    assert (node.vcpus_used, node.memory_mb_used, node.local_gb_used) == (2, 1024, 10)
    assert (node.free_ram_mb, node.free_disk_gb, node.running_vms) == (15360, 1014, 1)
    assert node.stats["num_instances"] == "1" and node.stats["num_vm_active"] == "1"
    assert not rt.update_available_resource(ctx, service_id=7).saved


def test_audit_rejects_driver_resources_with_missing_keys(ctx):
    class ForgetfulDriver(plugins.load_one("nubis.virt", "fake")):  # type: ignore[misc]
        """The fake driver, minus two resource keys."""

        def get_available_resource(self, nodename: str) -> dict[str, Any]:
            resources = super().get_available_resource(nodename)
            del resources["cpu_info"], resources["vcpus"]
            return resources

    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[])
    driver = ForgetfulDriver(conf)
    host = f"forgetful-{uuid.uuid4().hex[:6]}"
    driver.init_host(host)
    try:
        with pytest.raises(exception.InvalidDriverResources) as err:
            ResourceTracker(host, driver, host).update_available_resource(ctx)
    finally:
        driver.cleanup_host(host)
    assert "missing keys: cpu_info, vcpus" in str(err.value)
    assert "ForgetfulDriver" in str(err.value) and host in str(err.value)


def test_claim_counts_at_once_and_rolls_back_on_failure(ctx, host, rt):
    rt.update_available_resource(ctx)
    inst = new_instance(ctx, None, None, memory_mb=2048, vcpus=4, root_gb=20)
    with pytest.raises(RuntimeError, match="spawn failed"):
        with rt.instance_claim(ctx, inst):
            assert (inst.host, inst.node, inst.launched_on) == (host.host, host.host, host.host)
            assert rt.usage.memory_mb == 2048 and inst.uuid in rt.tracked
            assert rt.compute_node.memory_mb_used == 2048  # saved at claim time
            raise RuntimeError("spawn failed")
    assert (inst.host, inst.node, inst.launched_on) == (None, None, None)
    assert rt.usage.memory_mb == 0 and inst.uuid not in rt.tracked
    node = objects.ComputeNode.get_by_id(ctx, rt.compute_node.id)
    assert (node.memory_mb_used, node.vcpus_used, node.running_vms) == (0, 0, 0)

    with rt.instance_claim(ctx, inst) as claim:
        inst.save()
    assert claim.closed and inst.uuid in rt.tracked and rt.usage.vcpus == 4
    # The next audit finds it in the database and keeps counting it.
    rt.update_available_resource(ctx)
    assert rt.compute_node.vcpus_used == 4 and rt.compute_node.running_vms == 1


def test_claim_refused_when_the_instance_does_not_fit(ctx, rt):
    with pytest.raises(exception.ComputeResourcesUnavailable, match="not been audited"):
        rt.instance_claim(ctx, new_instance(ctx, None, None))
    rt.update_available_resource(ctx)
    big = new_instance(ctx, None, None, memory_mb=30000, vcpus=2, root_gb=2000)
    with pytest.raises(exception.ComputeResourcesUnavailable) as err:
        rt.instance_claim(ctx, big)
    message = str(err.value)
    assert "30000 MiB memory requested, 24576 MiB free of 24576 MiB" in message  # 16 GiB x 1.5
    assert "2000 GiB disk requested, 1024 GiB free" in message
    assert "vCPUs" not in message
    assert rt.usage.memory_mb == 0 and big.host is None


def test_claim_fails_clearly_when_the_lock_cannot_be_had(ctx, rt):
    rt.update_available_resource(ctx)
    rt.lock_timeout = 0.2
    holding, release = threading.Event(), threading.Event()

    def slow_audit() -> None:
        with rt.lock.hold("a resource audit stuck in a conductor call", 5):
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=slow_audit)
    thread.start()
    try:
        assert holding.wait(5)
        inst = new_instance(ctx, None, None)
        began = time.monotonic()
        with pytest.raises(exception.LockTimeout) as err:
            rt.instance_claim(ctx, inst)
        assert time.monotonic() - began < 2
    finally:
        release.set()
        thread.join(5)
    message = str(err.value)
    assert f"the claim of instance {inst.uuid}" in message
    assert "the resource tracker of node" in message and "within 0.2 s" in message
    assert "a resource audit stuck in a conductor call holds it" in message
    assert inst.host is None and rt.usage.memory_mb == 0
    rt.instance_claim(ctx, inst).abort()  # free again


def migration(ctx, instance, source, dest, status=MigrationStatus.RUNNING) -> Any:
    record = objects.Migration(ctx)
    record.uuid = str(uuid.uuid4())
    record.instance_uuid = instance.uuid
    record.migration_type = LIVE_MIGRATION
    record.source_compute, record.source_node = source, source
    record.dest_compute, record.dest_node = dest, dest
    record.status = status
    record.create()
    return record


def test_audit_counts_instances_migrations_and_orphans(ctx, host, rt, fake_host):
    me = host.host
    # On this node: one instance (2 vCPUs, 1 GiB, 10 GiB) with its guest.
    local = new_instance(ctx, me, me, memory_mb=1024, vcpus=2, root_gb=10)
    host.spawn(ctx, local)
    # Leaving: an instance here with a running migration out; counted once.
    leaving = new_instance(ctx, me, me, memory_mb=512, vcpus=1, root_gb=5)
    host.spawn(ctx, leaving)
    migration(ctx, leaving, me, "elsewhere")
    # Arriving: an instance of another host with a running migration in.
    arriving = new_instance(ctx, "src-host", "src-host", memory_mb=256, vcpus=1, root_gb=1)
    migration(ctx, arriving, "src-host", me, MigrationStatus.PREPARING)
    # Finished migrations hold nothing.
    done = new_instance(ctx, "src-host", "src-host", memory_mb=4096, vcpus=4)
    migration(ctx, done, "src-host", me, MigrationStatus.COMPLETED)
    # Orphans: a guest whose instance was deleted, and one the database never knew.
    deleted = new_instance(ctx, me, me, memory_mb=128, vcpus=1, root_gb=2)
    host.spawn(ctx, deleted)
    deleted.destroy()
    stray = guest(memory_mb=999, vcpus=3)
    host.spawn(ctx, stray)

    result = rt.update_available_resource(ctx)
    assert result.instances == 2 and result.migrations == 2
    assert sorted(result.orphans) == sorted([deleted.uuid, stray.uuid])
    assert rt.tracked == {local.uuid, leaving.uuid, arriving.uuid, deleted.uuid, stray.uuid}
    node = result.node
    # local + leaving + arriving + deleted; the stray guest has no known size.
    assert node.vcpus_used == 2 + 1 + 1 + 1
    assert node.memory_mb_used == 1024 + 512 + 256 + 128
    assert node.local_gb_used == 10 + 5 + 1 + 2
    assert node.running_vms == 5
    assert node.stats["num_orphans"] == "2" and node.stats["num_migrations"] == "2"

    # Only orphans counted on this node: without count_orphans they are not.
    other = ResourceTracker(me, host, me)
    other.update_available_resource(ctx, count_orphans=False)
    assert other.tracked == {local.uuid, leaving.uuid, arriving.uuid}


def test_an_audit_snapshot_never_undoes_a_later_change(ctx, host, rt, fake_host):
    """A claim settled while an audit is reading must survive that audit."""
    rt.update_available_resource(ctx)
    late = new_instance(ctx, None, None, memory_mb=700)
    gone = new_instance(ctx, host.host, host.host, memory_mb=300)
    rt.update_available_resource(ctx)
    assert rt.usage.memory_mb == 300

    stale_instances = list(objects.InstanceList.get_by_host(ctx, host.host))  # read "before"
    original = host.get_available_resource

    def meanwhile(nodename: str) -> dict[str, Any]:
        # Runs inside the audit, after its snapshot began: a build and a delete land.
        with rt.instance_claim(ctx, late):
            late.save()
        gone.destroy()
        rt.remove_instance(ctx, gone.uuid)
        return original(nodename)

    host.get_available_resource = meanwhile
    try:
        rt.update_available_resource(ctx, host_instances=stale_instances, guest_uuids=[])
    finally:
        host.get_available_resource = original
    assert rt.tracked == {late.uuid}
    assert rt.compute_node.memory_mb_used == 700
    rt.update_available_resource(ctx)  # and the database agrees on the next one
    assert rt.tracked == {late.uuid} and rt.compute_node.memory_mb_used == 700


def test_nodes_the_driver_no_longer_reports_are_deleted(ctx, compute_manager):
    manager = compute_manager(nodes=["n1", "n2"])
    results = update_available_resource(manager, ctx)
    assert sorted(results) == ["n1", "n2"] and all(r.created for r in results.values())
    n2_uuid = results["n2"].node.uuid
    listed = objects.ComputeNodeList.get_all_by_host(ctx, manager.host)
    assert sorted(n.hypervisor_hostname for n in listed) == ["n1", "n2"]

    manager.driver.conf.set_override("nodes", ["n1"], group="fake_driver")
    assert sorted(update_available_resource(manager, ctx)) == ["n1"]
    listed = objects.ComputeNodeList.get_all_by_host(ctx, manager.host)
    assert [n.hypervisor_hostname for n in listed] == ["n1"]
    assert sorted(manager.resource_trackers) == ["n1"]

    # Reported again: the same record comes back (same uuid).
    manager.driver.conf.set_override("nodes", ["n1", "n2"], group="fake_driver")
    again = update_available_resource(manager, ctx)
    assert again["n2"].created and again["n2"].node.uuid == n2_uuid

    # A hypervisor that is away is not taken for one without nodes.
    manager.driver.set_hypervisor_available(False)
    assert update_available_resource(manager, ctx) == {}
    assert len(objects.ComputeNodeList.get_all_by_host(ctx, manager.host)) == 2
    manager.driver.set_hypervisor_available(True)


def test_incoming_claims_live_as_long_as_their_migration(ctx, host, rt):
    me = host.host
    rt.update_available_resource(ctx)
    arriving = new_instance(ctx, "src-host", "src-host", memory_mb=300)
    record = migration(ctx, arriving, "src-host", me, MigrationStatus.PREPARING)
    claim = rt.incoming_claim(ctx, arriving)
    assert rt.compute_node.memory_mb_used == 300
    rt.update_available_resource(ctx)  # migration in progress: kept
    assert arriving.uuid in rt.in_flight and rt.compute_node.memory_mb_used == 300

    record.status = MigrationStatus.ERROR  # the source died and someone cleaned up
    record.save()
    rt.update_available_resource(ctx)
    assert arriving.uuid not in rt.tracked and rt.compute_node.memory_mb_used == 0
    claim.abort()  # a late rollback finds nothing left to give back
    assert rt.compute_node.memory_mb_used == 0
