"""Real live migration of a running guest between two libvirtd "hosts" on this machine.

Host A is the machine's libvirtd (qemu:///system); host B is a second libvirtd in its
own mount namespace (tests/fixtures/libvirt_hosts.py). Each host has its own
LibvirtDriver; the sequence is the manager's: check_can_live_migrate_destination on B,
check_can_live_migrate_source on A, pre_live_migration on B, live_migration on A (with
a progress callback), then post_live_migration_at_destination or
rollback_live_migration_at_destination on B.

Guests are diskless 64 MiB guests; their memory is mostly zero pages, so the copy is
over in well under a second. The tests that must see the migration in progress do not
rely on how long it takes; they hold it (``held_migration``) where it cannot end by
itself: libvirt's hook on host B holds the destination's Prepare phase (nothing is
copied yet, the source's job runs) until the test releases it -- the abort and
completion-timeout tests abort there -- and the progress test then SIGSTOPs the
destination QEMU, so the copy cannot complete until the test has seen a progress
sample of it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

from nubis.core import exception
from nubis.core.virt import events, power_state
from nubis.core.virt import migration as lm
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
from tests.fixtures.real_servers import libvirt_domain_type, wait_until

pytestmark = pytest.mark.libvirtd

HOST_A, HOST_B = "lm-host-a", "lm-host-b"
MiB = 1024**2
WAIT = 30.0  # bound of every wait for something the test is sure to see


class Hosts:
    """Drivers of host A and host B, and the guests a test started."""

    def __init__(self, second: SecondLibvirtHost, instances_path: str) -> None:
        self.second = second
        self.instances_path = instances_path
        self.drivers: dict[str, LibvirtDriver] = {}
        self.guests: list[Any] = []

    def driver(self, host: str, **options: Any) -> LibvirtDriver:
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[])
        libvirt_conf.register_opts(conf)
        uri = "qemu:///system" if host == HOST_A else self.second.uri
        # How the *other* daemon reaches this one for a peer-to-peer migration.
        inbound = self.second.main_uri_from_here if host == HOST_A else self.second.uri
        values = {
            "virt_type": libvirt_domain_type(),
            "connection_uri": uri,
            "live_migration_uri": inbound,
            "instances_path": self.instances_path,
            "live_migration_progress_interval": 0.2,
            # How long the driver waits for libvirt to end an aborted job before it gives
            # up on it (see nubis.plugins.virt.libvirt.migration). Here libvirt ends it
            # ~2 s after the test releases the held destination: the bound is far off,
            # so the outcome does not depend on the machine's load.
            "live_migration_abort_timeout": 30,
            **options,
        }
        for name, value in values.items():
            conf.set_override(name, value, group="libvirt")
        drv = LibvirtDriver(conf)
        drv.init_host(host)
        self.drivers[host] = drv
        return drv

    def guest(self) -> Any:
        inst = types.SimpleNamespace(
            uuid=str(uuid.uuid4()),
            name=f"nubis-lm-{uuid.uuid4().hex[:8]}",
            memory_mb=64,
            vcpus=1,
            root_gb=0,
            image_ref="",
            host=HOST_A,
            node=None,
            power_state=power_state.NOSTATE,
        )
        self.guests.append(inst)
        return inst

    def close(self) -> list[str]:
        resume_guests(self.second)
        leftovers = []
        for host, drv in self.drivers.items():
            for inst in self.guests:
                if drv.instance_exists(inst):
                    leftovers.append(f"{inst.name} on {host}")
                    drv.destroy(None, inst)
            drv.cleanup_host(host)
        return leftovers


@pytest.fixture
def hosts(second_libvirt_host: SecondLibvirtHost) -> Iterator[Hosts]:  # noqa: F811
    path = tempfile.mkdtemp(prefix="nubis-lm-", dir="/var/tmp")
    os.chmod(path, 0o755)  # QEMU runs as libvirt-qemu
    result = Hosts(second_libvirt_host, path)
    try:
        yield result
    finally:
        leftovers = result.close()
        shutil.rmtree(path, ignore_errors=True)
    assert not leftovers, f"guests left behind: {leftovers}"


class Recorder:
    """post_method / recover_method / progress callback that remember their calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.progress: list[lm.MigrationProgress] = []
        self.first_progress = threading.Event()

    def post(self, *args: Any) -> None:
        self.calls.append(("post", args))

    def recover(self, *args: Any) -> None:
        self.calls.append(("recover", args))

    def on_progress(self, sample: lm.MigrationProgress) -> None:
        self.progress.append(sample)
        self.first_progress.set()

    @property
    def outcome(self) -> list[str]:
        return [name for name, _ in self.calls]

    def __repr__(self) -> str:
        errors = [args[-1].get(lm.ERROR) for _, args in self.calls]
        return f"<calls {self.outcome}, errors {errors}>"


def prepare(src: LibvirtDriver, dst: LibvirtDriver, inst: Any, rec: Recorder) -> dict[str, Any]:
    """The manager's pre-checks: destination, source, pre_live_migration."""
    src_res = src.get_available_resource(src.get_available_nodes()[0])
    dst_res = dst.get_available_resource(dst.get_available_nodes()[0])
    data = dst.check_can_live_migrate_destination(None, inst, src_res, dst_res)
    assert data[lm.DEST_HOST] == dst.host_name
    data = src.check_can_live_migrate_source(None, inst, data)
    data = dst.pre_live_migration(None, inst, None, None, None, data)
    data[lm.PROGRESS_CALLBACK] = rec.on_progress
    return data


def migrate(src: LibvirtDriver, dst: LibvirtDriver, inst: Any) -> tuple[Recorder, float]:
    rec = Recorder()
    data = prepare(src, dst, inst, rec)
    started = time.monotonic()
    src.live_migration(None, inst, dst.host_name, rec.post, rec.recover, migrate_data=data)
    return rec, time.monotonic() - started


def assert_runs_only_on(inst: Any, here: LibvirtDriver, gone: LibvirtDriver) -> None:
    assert here.get_info(inst).state == power_state.RUNNING
    assert inst.uuid in here.list_instance_uuids()
    assert not gone.instance_exists(inst)


@contextlib.contextmanager
def held_migration(
    hosts: Hosts, src: LibvirtDriver, dst: LibvirtDriver, inst: Any
) -> Iterator[tuple[Recorder, OperationHold]]:
    """Run ``src.live_migration`` of *inst* to host B in a thread, its destination held.

    Yields once libvirtd on B has reached the last hook of its Prepare phase and waits
    there (or live_migration has returned): the source's migration job runs (the driver
    samples it), nothing is copied. The test releases the hold when it is ready;
    leaving the block releases it in any case and waits for live_migration to return.
    """
    assert dst.host_name == HOST_B, "only host B's libvirtd can be held"
    rec = Recorder()
    data = prepare(src, dst, inst, rec)
    worker = threading.Thread(
        target=src.live_migration,
        args=(None, inst, dst.host_name, rec.post, rec.recover),
        kwargs={"migrate_data": data},
        name="test-live-migration",
    )
    with hold_operation(hosts.second, inst.name, "started") as hold:
        try:
            worker.start()
            wait_for(lambda: hold.held() or not worker.is_alive(), "B to reach Prepare's end")
            yield rec, hold
        finally:
            hold.release()
            worker.join(60)
    assert not worker.is_alive(), "live_migration did not return"


def wait_for(predicate: Callable[[], Any], what: str) -> None:
    if not wait_until(predicate, WAIT, 0.01):
        raise AssertionError(f"timed out after {WAIT:g}s waiting for {what}")


def abort_issued(watch: LogWatch, inst: Any) -> Callable[[], bool]:
    """Whether the driver has called abortJob() on the migration of *inst* (it logs so
    once libvirt accepted it)."""
    return lambda: watch.saw(f"aborting live migration of {inst.uuid}")


def test_live_migration_there_and_back(hosts: Hosts) -> None:
    a = hosts.driver(HOST_A, live_migration_bandwidth=1)
    b = hosts.driver(HOST_B)
    seen: list[events.Event] = []
    a.register_event_listener(seen.append)
    inst = hosts.guest()
    a.spawn(None, inst)

    started = time.monotonic()
    with held_migration(hosts, a, b, inst) as (rec, hold):
        # B's QEMU listens for the stream and is stopped before A can send it: the copy
        # cannot complete until the block ends, whatever the machine's speed.
        with guest_stopped(hosts.second, inst.name):
            hold.release()
            wait_for(
                lambda: any(p.memory_total >= 64 * MiB for p in list(rec.progress)),
                "a progress sample of the copy",
            )
    took_there = time.monotonic() - started
    assert rec.outcome == ["post"], rec
    _ctx, post_inst, dest, block_migration, post_data = rec.calls[0][1]
    assert (post_inst, dest, block_migration) == (inst, HOST_B, False)
    assert post_data[lm.RESULT] == lm.RESULT_COMPLETED
    sample = max(rec.progress, key=lambda p: p.memory_total)
    assert sample.memory_total >= 64 * MiB
    assert 0 <= sample.memory_remaining <= sample.memory_total
    assert [p.elapsed for p in rec.progress] == sorted(p.elapsed for p in rec.progress)
    b.post_live_migration_at_destination(None, inst, None)
    assert_runs_only_on(inst, here=b, gone=a)
    assert a.flush_events(5)
    assert events.MIGRATION_COMPLETED in [
        e.transition for e in seen if isinstance(e, events.LifecycleEvent)
    ]

    # And back, at full speed.
    rec, took_back = migrate(b, a, inst)
    assert rec.outcome == ["post"], rec
    a.post_live_migration_at_destination(None, inst, None)
    assert_runs_only_on(inst, here=a, gone=b)
    print(
        f"\nlive migration of a 64 MiB guest: A->B {took_there:.2f}s (1 MiB/s cap, held "
        f"until a progress sample), B->A {took_back:.2f}s (unlimited)"
    )
    a.destroy(None, inst)


def test_aborted_live_migration_keeps_the_guest_on_the_source(hosts: Hosts) -> None:
    a = hosts.driver(HOST_A)
    b = hosts.driver(HOST_B)
    inst = hosts.guest()
    a.spawn(None, inst)
    with LogWatch("nubis.plugins.virt.libvirt.migration") as watch:
        with held_migration(hosts, a, b, inst) as (rec, hold):
            assert rec.first_progress.wait(WAIT), "the migration job never reported progress"
            a.live_migration_abort(inst)  # from another thread, as the manager's RPC worker does
            wait_for(abort_issued(watch, inst), "the driver to abort the libvirt job")
            hold.release()
    assert rec.outcome == ["recover"], rec
    _ctx, rec_inst, dest, rec_data = rec.calls[0][1]
    assert (rec_inst, dest) == (inst, HOST_B)
    assert rec_data[lm.RESULT] == lm.RESULT_CANCELLED
    assert "aborted by request" in rec_data[lm.ERROR]
    b.rollback_live_migration_at_destination(None, inst, None, None, migrate_data=rec_data)
    assert_runs_only_on(inst, here=a, gone=b)
    with pytest.raises(exception.NoActiveMigrationForInstance):
        a.live_migration_abort(inst)
    a.destroy(None, inst)


def test_completion_timeout_aborts_and_recovers(hosts: Hosts) -> None:
    a = hosts.driver(HOST_A, live_migration_completion_timeout=0.3)
    b = hosts.driver(HOST_B)
    inst = hosts.guest()
    a.spawn(None, inst)
    with LogWatch("nubis.plugins.virt.libvirt.migration") as watch:
        with held_migration(hosts, a, b, inst) as (rec, hold):
            # Held, the migration cannot complete: the 0.3 s timeout must abort it.
            wait_for(abort_issued(watch, inst), "the completion timeout to abort the job")
            hold.release()
    assert rec.outcome == ["recover"], rec
    rec_data = rec.calls[0][1][3]
    assert rec_data[lm.RESULT] == lm.RESULT_FAILED
    assert "completion timeout" in rec_data[lm.ERROR]
    b.rollback_live_migration_at_destination(None, inst, None, None, migrate_data=rec_data)
    assert_runs_only_on(inst, here=a, gone=b)
    a.destroy(None, inst)


def test_prechecks_refuse_what_cannot_work(hosts: Hosts) -> None:
    a = hosts.driver(HOST_A)
    b = hosts.driver(HOST_B)
    inst = hosts.guest()
    a.spawn(None, inst)
    a_res = a.get_available_resource(a.get_available_nodes()[0])
    b_res = b.get_available_resource(b.get_available_nodes()[0])
    with pytest.raises(exception.MigrationPreCheckError, match="block migration"):
        b.check_can_live_migrate_destination(None, inst, a_res, b_res, block_migration=True)
    newer = dict(a_res, hypervisor_version=b_res["hypervisor_version"] + 1)
    with pytest.raises(exception.MigrationPreCheckError, match="older than the source"):
        b.check_can_live_migrate_destination(None, inst, newer, b_res)
    own = a.check_can_live_migrate_destination(None, inst, a_res, a_res)
    with pytest.raises(exception.MigrationPreCheckError, match="this very host"):
        a.check_can_live_migrate_source(None, inst, own)
    a.power_off(inst)
    data = b.check_can_live_migrate_destination(None, inst, a_res, b_res)
    with pytest.raises(exception.MigrationPreCheckError, match="not running"):
        a.check_can_live_migrate_source(None, inst, data)
    a.destroy(None, inst)
