"""What the fake driver adds to the contract: configuration, hosts, fault injection."""

from __future__ import annotations

import threading
import types
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from oslo_config import cfg

from nubis.core import exception
from nubis.core.virt import events, power_state
from nubis.core.virt import migration as lm
from nubis.plugins.virt import fake


def make_conf(**options: Any) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[])
    for group, opts in fake.list_opts():
        conf.register_opts(opts, group=group)
    for name, value in options.items():
        conf.set_override(name, value, group="fake_driver")
    return conf


@pytest.fixture
def hosts() -> Iterator[Any]:
    started: list[tuple[fake.FakeDriver, str]] = []

    def start(name: str | None = None, **options: Any) -> fake.FakeDriver:
        host = name or f"fake-{uuid.uuid4().hex[:8]}"
        drv = fake.FakeDriver(make_conf(**options))
        drv.init_host(host)
        started.append((drv, host))
        return drv

    yield start
    for drv, host in started:
        drv.cleanup_host(host)


def instance(**fields: Any) -> Any:
    values = dict(
        uuid=str(uuid.uuid4()),
        name="instance-00000001",
        memory_mb=512,
        vcpus=2,
        root_gb=5,
        image_ref="",
        host=None,
        node=None,
        power_state=0,
    )
    values.update(fields)
    return types.SimpleNamespace(**values)


def test_resources_follow_the_options_and_the_guests(hosts) -> None:
    drv = hosts(vcpus=4, memory_mb=2048, local_gb=50)
    drv.spawn(None, instance(memory_mb=512, vcpus=2, root_gb=5))
    (node,) = drv.get_available_nodes()
    res = drv.get_available_resource(node)
    assert (res["vcpus"], res["memory_mb"], res["local_gb"]) == (4, 2048, 50)
    assert (res["vcpus_used"], res["memory_mb_used"], res["local_gb_used"]) == (2, 512, 5)
    assert res["disk_available_least"] == 45
    with pytest.raises(exception.ComputeHostNodeNotFound):
        drv.get_available_resource("elsewhere")


def test_configured_nodes_and_node_placement(hosts) -> None:
    drv = hosts(nodes=["n1", "n2"])
    assert drv.get_available_nodes() == ["n1", "n2"]
    drv.spawn(None, instance(node="n2", vcpus=3))
    assert drv.get_available_resource("n2")["vcpus_used"] == 3
    assert drv.get_available_resource("n1")["vcpus_used"] == 0


def test_two_hosts_with_one_name_are_refused(hosts) -> None:
    drv = hosts()
    assert drv.host in fake.registered_hosts()
    with pytest.raises(exception.ConfigurationError, match="already running"):
        hosts(drv.host)


def test_calls_before_init_host_raise_not_ready() -> None:
    drv = fake.FakeDriver(make_conf())
    with pytest.raises(exception.VirtDriverNotReady):
        drv.list_instances()


def test_hypervisor_outage_is_reported_and_refused(hosts) -> None:
    drv = hosts()
    seen: list[events.Event] = []
    drv.register_event_listener(seen.append)
    drv.set_hypervisor_available(False)
    assert not drv.is_hypervisor_available()
    with pytest.raises(exception.HypervisorUnavailable):
        drv.list_instances()
    drv.set_hypervisor_available(True)
    assert drv.flush_events(5)
    assert [
        (e.available, e.reason) for e in seen if isinstance(e, events.HypervisorStatusEvent)
    ] == [
        (False, "connection lost"),
        (True, "connection restored"),
    ]


def test_injected_power_state_emits_its_event(hosts) -> None:
    drv = hosts()
    inst = instance()
    drv.spawn(None, inst)
    seen: list[events.Event] = []
    drv.register_event_listener(seen.append)
    drv.inject_power_state(inst.uuid, power_state.CRASHED)
    assert drv.get_info(inst).state == power_state.CRASHED
    assert drv.flush_events(5)
    assert [e.transition for e in seen if isinstance(e, events.LifecycleEvent)] == ["STOPPED"]


def _prepare(src: fake.FakeDriver, dst: fake.FakeDriver, inst: Any) -> dict[str, Any]:
    data = dst.check_can_live_migrate_destination(None, inst, {}, {})
    data = src.check_can_live_migrate_source(None, inst, data)
    return dst.pre_live_migration(None, inst, None, None, None, data)


def test_migration_to_a_host_that_went_away_is_recovered(hosts) -> None:
    src, dst = hosts(), hosts()
    inst = instance()
    src.spawn(None, inst)
    data = _prepare(src, dst, inst)
    dst.cleanup_host(dst.host)
    calls: list[str] = []
    src.live_migration(
        None,
        inst,
        dst.host,
        lambda *a: calls.append("post"),
        lambda *a: calls.append("recover"),
        migrate_data=data,
    )
    assert calls == ["recover"]
    assert data[lm.RESULT] == lm.RESULT_FAILED and "went away" in data[lm.ERROR]
    assert src.get_info(inst).state == power_state.RUNNING


def test_destination_without_memory_refuses(hosts) -> None:
    dst = hosts(memory_mb=256)
    with pytest.raises(exception.MigrationPreCheckError, match="256 MiB free"):
        dst.check_can_live_migrate_destination(None, instance(memory_mb=512), {}, {})


def test_opposite_migrations_between_two_hosts_do_not_deadlock(hosts) -> None:
    a, b = hosts(live_migration_seconds=0.05), hosts(live_migration_seconds=0.05)
    ia, ib = instance(), instance()
    a.spawn(None, ia)
    b.spawn(None, ib)
    data_ab, data_ba = _prepare(a, b, ia), _prepare(b, a, ib)
    results: list[str] = []
    threads = [
        threading.Thread(
            target=src.live_migration,
            args=(None, inst, dst.host, lambda *x: results.append("post"), print),
            kwargs={"migrate_data": data},
        )
        for src, dst, inst, data in ((a, b, ia, data_ab), (b, a, ib, data_ba))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert results == ["post", "post"]
    assert a.list_instance_uuids() == [ib.uuid] and b.list_instance_uuids() == [ia.uuid]


# --- the console log and rebuild ----------------------------------------------------------


def test_the_console_log_follows_the_guest(hosts) -> None:
    drv = hosts()
    inst = instance(image_ref="img-1")
    drv.spawn(None, inst)
    first = drv.get_console_output(inst)
    assert f"nubis fake guest {inst.uuid}: boot 1, image img-1" in first
    assert first.endswith("instance-00000001 login: \n") and first.count("\n") == 11
    drv.power_off(inst)
    drv.power_off(inst)  # already off: nothing more is logged
    stopped = drv.get_console_output(inst)
    assert stopped.startswith(first) and stopped.endswith("reboot: Power down\n")
    assert stopped.count("Power down") == 1
    drv.reboot(None, inst, reboot_type="HARD")  # from off: no "Restarting" line
    drv.reboot(None, inst, reboot_type="SOFT")
    log = drv.get_console_output(inst)
    assert log.count("reboot: Restarting system") == 1 and ": boot 3, image img-1" in log
    drv.power_on(None, inst)  # already running: nothing is logged
    assert drv.get_console_output(inst) == log
    drv.destroy(None, inst)
    with pytest.raises(exception.InstanceNotFound):
        drv.get_console_output(inst)


def test_the_console_log_keeps_the_newest_lines(hosts) -> None:
    drv = hosts()
    inst = instance()
    drv.spawn(None, inst)
    guest = drv._guests[inst.uuid]  # what the guest "wrote"
    guest.log(*(f"line {n}" for n in range(fake.CONSOLE_LINES + 5)))
    assert len(guest.console) == fake.CONSOLE_LINES
    assert guest.console[0] == "line 5"
    guest.log("é" * 200_000)  # one long line of two-byte characters
    output = drv.get_console_output(inst)
    assert len(output.encode()) <= fake.driver.MAX_CONSOLE_BYTES
    assert output.endswith("é\n") and output.startswith("é")


def test_rebuild_boots_the_new_image_with_a_new_log(hosts) -> None:
    drv = hosts()
    seen: list[events.Event] = []
    drv.register_event_listener(seen.append)
    inst = instance(image_ref="img-1")
    drv.spawn(None, inst)
    drv.reboot(None, inst, reboot_type="HARD")
    inst.image_ref = "img-2"
    drv.rebuild(None, inst)
    assert drv.get_info(inst).state == power_state.RUNNING
    log = drv.get_console_output(inst)
    assert ": boot 1, image img-2" in log and "img-1" not in log and "boot 2" not in log
    drv.power_off(inst)
    drv.rebuild(None, inst, preserve_ephemeral=True)  # from off: it runs again
    assert drv.get_info(inst).state == power_state.RUNNING
    assert drv.flush_events(5)
    transitions = [e.transition for e in seen if isinstance(e, events.LifecycleEvent)]
    assert transitions[-2:] == [events.STOPPED, events.STARTED]
    with pytest.raises(exception.InstanceNotFound):
        drv.rebuild(None, instance())


def test_an_injected_spawn_failure_fails_a_rebuild_and_leaves_no_guest(hosts) -> None:
    drv = hosts()
    inst = instance()
    drv.spawn(None, inst)
    drv.fail_next_spawns(1, "no bootable disk")
    with pytest.raises(exception.InstanceSpawnFailure, match="no bootable disk"):
        drv.rebuild(None, inst)
    assert not drv.instance_exists(inst)
    drv.spawn(None, inst)  # the failure was used up
    assert drv.instance_exists(inst)


def test_the_console_log_moves_with_a_live_migration(hosts) -> None:
    src, dst = hosts(live_migration_seconds=0), hosts(live_migration_seconds=0)
    inst = instance()
    src.spawn(None, inst)
    before = src.get_console_output(inst)
    data = dst.check_can_live_migrate_destination(None, inst, {}, {})
    data = src.check_can_live_migrate_source(None, inst, data)
    data = dst.pre_live_migration(None, inst, None, None, None, data)
    done: list[str] = []
    src.live_migration(
        None, inst, dst.host, lambda *a: done.append("post"), lambda *a: done.append("recover"),
        migrate_data=data,
    )  # fmt: skip
    assert done == ["post"]
    assert dst.get_console_output(inst) == before
