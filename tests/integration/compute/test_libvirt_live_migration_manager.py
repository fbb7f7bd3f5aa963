"""Real live migration of a running QEMU guest, driven through ComputeManager.

Host A is the machine's libvirtd (qemu:///system), host B a second libvirtd in its own
mount namespace (tests/fixtures/libvirt_hosts.py). Each runs a nubis-compute service
(ComputeManager with a LibvirtDriver of its own configuration) in this process, next to
a conductor, over inproc:// with SQLite; the computes' objects go through the conductor.
The test plays the API and the conductor: it builds the instance with a cast, records
the Migration, asks the destination to check, and casts live_migration to the source.

The guest is a diskless 64 MiB guest, mostly zero pages: its copy is over in well under
a second. The tests do not rely on how long it takes: libvirt's hook on host B holds the
destination's Prepare phase (nothing copied yet, the source's job running) until the
test releases it -- the abort test aborts there -- and the migration test then SIGSTOPs
the destination QEMU, so the copy cannot complete before the driver's progress samples
have landed in the Migration (tests/fixtures/libvirt_hosts.py).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from oslo_config import cfg

from nubis.core import exception, objects, plugins
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.compute.states import LIVE_MIGRATION, MigrationStatus, TaskState, VMState
from nubis.core.conf import CONF
from nubis.core.context import get_admin_context
from nubis.core.objects import base
from nubis.core.service import Service
from nubis.core.virt import power_state
from nubis.plugins.virt.libvirt import conf as libvirt_conf
from nubis.plugins.virt.libvirt.driver import LibvirtDriver
from tests.fixtures.libvirt_hosts import (  # noqa: F401
    LogWatch,
    OperationHold,
    SecondLibvirtHost,
    guest_stopped,
    hold_operation,
    resume_guests,
    second_libvirt_host,
)
from tests.fixtures.real_servers import libvirt_domain_type

pytestmark = pytest.mark.libvirtd

HOST_A, HOST_B = "lvm-host-a", "lvm-host-b"
MiB = 1024**2


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Cloud:
    def __init__(self, computes: dict[str, Service], second: SecondLibvirtHost) -> None:
        self.computes = computes
        self.second = second  # host B's libvirtd
        self.built: list[str] = []

    def driver(self, host: str) -> LibvirtDriver:
        driver: LibvirtDriver = self.computes[host].manager.driver
        return driver

    def nodename(self, host: str) -> str:
        return str(self.driver(host).get_available_nodes()[0])

    def build(self) -> Any:
        ctx = get_admin_context()
        inst = objects.Instance(ctx)
        inst.uuid = str(uuid.uuid4())
        inst.display_name = "lm-guest"
        inst.memory_mb, inst.vcpus, inst.root_gb, inst.ephemeral_gb = 64, 1, 0, 0
        inst.image_ref = ""
        inst.vm_state, inst.task_state = VMState.BUILDING, TaskState.SCHEDULING
        inst.create()
        self.built.append(inst.uuid)
        ComputeAPI().build_and_run_instance(ctx, inst, HOST_A)
        return wait_for(lambda: active(inst.uuid), 60, f"instance {inst.uuid} to be active")


def active(instance_uuid: str) -> Any:
    inst = objects.Instance.get_by_uuid(get_admin_context(), instance_uuid)
    return inst if inst.vm_state == VMState.ACTIVE and inst.task_state is None else None


def libvirt_driver(second: SecondLibvirtHost, host: str, instances_path: str) -> LibvirtDriver:
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[])
    libvirt_conf.register_opts(conf)
    values = {
        "virt_type": libvirt_domain_type(),
        "connection_uri": "qemu:///system" if host == HOST_A else second.uri,
        # How the *other* daemon reaches this one for a peer-to-peer migration.
        "live_migration_uri": second.main_uri_from_here if host == HOST_A else second.uri,
        "instances_path": instances_path,
        "live_migration_progress_interval": 0.2,
    }
    for name, value in values.items():
        conf.set_override(name, value, group="libvirt")
    return LibvirtDriver(conf)


def start_instance_ids_high(db_url: str) -> None:
    """Guests are named instance-<id hex>: start ids at a random high value so the names
    cannot collide with guests of other runs on the machine's libvirtd."""
    first = random.randrange(0x10000000, 0x7FFFFFFF)
    engine = sqlalchemy.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sqlalchemy.text(
                "INSERT INTO instances (id, uuid, deleted, locked) VALUES (:id, :uuid, :id, 0)"
            ),
            {"id": first, "uuid": str(uuid.uuid4())},
        )
    engine.dispose()


@pytest.fixture(scope="module")
def cloud(
    second_libvirt_host: SecondLibvirtHost,  # noqa: F811
    _migrated_urls: Callable[[str], str],
    tmp_path_factory: Any,
) -> Iterator[Cloud]:
    from nubis.core.db import engine
    from nubis.core.objects.base import install_indirection

    template = Path(sqlalchemy.make_url(_migrated_urls("sqlite")).database or "")
    db = tmp_path_factory.mktemp("lvm") / "nubis.sqlite"
    shutil.copyfile(template, db)
    start_instance_ids_high(f"sqlite:///{db}")
    instances_path = tempfile.mkdtemp(prefix="nubis-lvm-", dir="/var/tmp")
    os.chmod(instances_path, 0o755)  # QEMU runs as libvirt-qemu
    tag = uuid.uuid4().hex[:8]
    overrides: list[tuple[str, str | None]] = []

    def override(name: str, value: Any, group: str | None = None) -> None:
        CONF.set_override(name, value, group=group)
        overrides.append((name, group))

    override("transport_url", f"inproc:///lvm-{tag}")
    override("connection", f"sqlite:///{db}", group="database")
    override("periodic_enable", False)  # no orphan reaping on the machine's libvirtd
    override("graceful_shutdown_timeout", 30)
    override("topic", f"conductor-{tag}", group="conductor")
    override("topic", f"compute-{tag}", group="compute")
    override("api", "local", group="indirection")
    objects.register_all()
    install_indirection()
    conductor = Service.create("conductor", host="lvm-conductor")
    conductor.start()
    computes: dict[str, Service] = {}
    result: Cloud | None = None
    manager_cls = plugins.load_one("nubis.managers", "compute")
    try:
        override("api", "conductor", group="indirection")
        install_indirection()
        for host in (HOST_A, HOST_B):
            driver = libvirt_driver(second_libvirt_host, host, instances_path)
            computes[host] = Service(
                host=host,
                binary="nubis-compute",
                topic=CONF.compute.topic,
                manager=manager_cls(host=host, driver=driver),
            )
            computes[host].start()
        result = Cloud(computes, second_libvirt_host)
        yield result
    finally:
        resume_guests(second_libvirt_host)
        leftovers = []
        for service in computes.values():
            for instance_uuid in result.built if result is not None else []:
                probe = _Probe(instance_uuid)
                if service.manager.driver.instance_exists(probe):
                    leftovers.append(f"{instance_uuid} on {service.host}")
                    service.manager.driver.destroy(None, probe)
        for service in [*computes.values(), conductor]:
            service.stop()
        base.set_indirection_api(None)
        for name, group in reversed(overrides):
            CONF.clear_override(name, group=group)
        engine.reset()
        shutil.rmtree(instances_path, ignore_errors=True)
    assert not leftovers, f"guests left behind: {leftovers}"


class _Probe:
    def __init__(self, instance_uuid: str) -> None:
        self.uuid = instance_uuid
        self.name = instance_uuid


def new_migration(ctx: Any, cloud: Cloud, inst: Any) -> Any:
    migration = objects.Migration(ctx)
    migration.uuid = str(uuid.uuid4())
    migration.instance_uuid = inst.uuid
    migration.migration_type = LIVE_MIGRATION
    migration.source_compute, migration.source_node = HOST_A, inst.node
    migration.dest_compute, migration.dest_node = HOST_B, cloud.nodename(HOST_B)
    migration.status = MigrationStatus.ACCEPTED
    migration.create()
    return migration


def start_migration(ctx: Any, cloud: Cloud, inst: Any) -> Any:
    migration = new_migration(ctx, cloud, inst)
    api = ComputeAPI()
    data = api.check_can_live_migrate_destination(ctx, inst, HOST_B, timeout=30)
    assert data["dest_host"] == HOST_B and data["libvirt_migration_uri"]
    api.live_migration(ctx, inst, HOST_B, False, data, migration)
    return migration


def migration_of(ctx: Any, migration: Any) -> Any:
    return objects.Migration.get_by_id(ctx, migration.id)


def ended(ctx: Any, migration: Any) -> Any:
    record = migration_of(ctx, migration)
    return record if record.status not in MigrationStatus.IN_PROGRESS else None


@contextlib.contextmanager
def held_migration(ctx: Any, cloud: Cloud, inst: Any) -> Iterator[tuple[Any, OperationHold]]:
    """Start the live migration of *inst* to host B with B's Prepare phase held.

    Yields (Migration, hold) once libvirtd on B waits in the last hook of its Prepare
    phase -- the source's driver runs its job, nothing is copied -- or the migration
    has ended. Leaving the block releases the hold and waits for the migration to end.
    """
    with hold_operation(cloud.second, inst.name, "started") as hold:
        migration = start_migration(ctx, cloud, inst)
        try:
            wait_for(
                lambda: hold.held() or ended(ctx, migration),
                30,
                "host B to reach the end of its Prepare phase",
            )
            yield migration, hold
        finally:
            hold.release()
            wait_for(lambda: ended(ctx, migration), 90, "the live migration to end")


def abort_issued(watch: LogWatch, inst: Any) -> Callable[[], bool]:
    """Whether host A's driver has called abortJob() on the migration of *inst* (it
    logs so once libvirt accepted it)."""
    return lambda: watch.saw(f"aborting live migration of {inst.uuid}")


def terminate(ctx: Any, inst: Any) -> None:
    ComputeAPI().terminate_instance(ctx, inst)

    def gone() -> bool:
        try:
            objects.Instance.get_by_uuid(get_admin_context(), inst.uuid)
        except exception.InstanceNotFound:
            return True
        return False

    wait_for(gone, 30, f"instance {inst.uuid} to be deleted")


def test_live_migration_through_the_manager(cloud: Cloud) -> None:
    inst = cloud.build()
    a, b = cloud.driver(HOST_A), cloud.driver(HOST_B)
    assert a.get_info(inst).state == power_state.RUNNING
    ctx = get_admin_context()
    began = time.monotonic()
    with held_migration(ctx, cloud, inst) as (migration, hold):
        # B's QEMU listens for the stream and is stopped before A can send it: the copy
        # cannot complete until the block ends, whatever the machine's speed.
        with guest_stopped(cloud.second, inst.name):
            hold.release()
            # Progress from libvirt's job statistics, written to the Migration by the manager.
            sampled = wait_for(
                lambda: (
                    ((m := migration_of(ctx, migration)).memory_total or 0) >= 64 * MiB
                    and (m.memory_processed or 0) > 0
                    and m
                ),
                30,
                "a progress sample of the copy in the Migration",
            )
    assert sampled.status == MigrationStatus.RUNNING
    done = wait_for(lambda: ended(ctx, migration), 90, "the live migration to end")
    took = time.monotonic() - began
    assert done.status == MigrationStatus.COMPLETED, done.status

    moved = active(inst.uuid)
    assert (moved.host, moved.node) == (HOST_B, cloud.nodename(HOST_B))
    assert moved.power_state == power_state.RUNNING
    assert b.get_info(moved).state == power_state.RUNNING
    assert not a.instance_exists(moved)
    events = [
        e.event
        for action in objects.InstanceActionList.get_by_instance_uuid(ctx, inst.uuid)
        if action.action == "live-migration"
        for e in objects.InstanceActionEventList.get_by_action(ctx, action.id)
    ]
    assert "compute_post_live_migration_at_destination" in events
    print(
        f"\nlive migration of a running 64 MiB guest through ComputeManager: {took:.1f} s "
        f"(held until a progress sample); {sampled.memory_processed / MiB:.1f} MiB processed"
    )
    terminate(ctx, moved)
    assert not b.instance_exists(moved)


def test_aborted_live_migration_leaves_the_guest_running_on_the_source(cloud: Cloud) -> None:
    inst = cloud.build()
    a, b = cloud.driver(HOST_A), cloud.driver(HOST_B)
    ctx = get_admin_context()
    with LogWatch("nubis.plugins.virt.libvirt.migration") as watch:
        with held_migration(ctx, cloud, inst) as (migration, hold):
            assert migration_of(ctx, migration).status == MigrationStatus.RUNNING
            ComputeAPI().live_migration_abort(ctx, inst, migration.id)
            wait_for(abort_issued(watch, inst), 30, "host A's driver to abort the libvirt job")
            hold.release()
    done = wait_for(lambda: ended(ctx, migration), 30, "the aborted migration to end")
    assert done.status == MigrationStatus.CANCELLED
    back = active(inst.uuid)
    assert (back.host, back.node) == (HOST_A, inst.node)
    assert a.get_info(back).state == power_state.RUNNING
    assert not b.instance_exists(back)
    terminate(ctx, back)
    assert not a.instance_exists(back)
