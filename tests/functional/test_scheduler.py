"""The scheduler manager on real objects: a migrated SQLite database reached through the
``local`` indirection, compute nodes and service records created through the objects,
liveness from the ``db`` servicegroup driver; and the same manager served over inproc://
behind SchedulerAPI.
"""

from __future__ import annotations

import collections
import datetime
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import oslo_messaging as messaging
import pytest
import sqlalchemy
from oslo_utils import timeutils

from nubis.core import exception, objects, plugins
from nubis.core.conf import CONF
from nubis.core.context import get_admin_context
from nubis.core.objects import base
from nubis.core.scheduler.rpcapi import SchedulerAPI
from tests.fixtures.real_servers import wait_until

MB = 1


@pytest.fixture
def ctx(sqlite_db_url: str, flags: Callable[..., None]) -> Iterator[Any]:
    """Objects run through the ``local`` indirection on a fresh SQLite database."""
    flags(group="indirection", api="local")
    flags(group="compute", topic=f"compute-{uuid.uuid4().hex[:8]}")
    objects.register_all()
    base.install_indirection()
    try:
        yield get_admin_context()
    finally:
        base.set_indirection_api(None)


@pytest.fixture
def scheduler(ctx: Any) -> Iterator[Any]:
    manager = plugins.load_one("nubis.managers", "scheduler")(host="sched")
    yield manager
    manager.cleanup_host()


def add_host(
    ctx: Any,
    name: str,
    memory_mb: int = 8192,
    free_ram_mb: int | None = None,
    vcpus: int = 8,
    vcpus_used: int = 0,
    local_gb: int = 100,
    free_disk_gb: int | None = None,
    hypervisor_type: str = "QEMU",
    hypervisor_version: int = 7002000,
    seen: datetime.timedelta = datetime.timedelta(0),
    disabled: bool = False,
    forced_down: bool = False,
) -> Any:
    """A compute service record (last seen *seen* ago) and its one node, named *name*."""
    service = objects.Service(
        ctx,
        host=name,
        binary="nubis-compute",
        topic=CONF.compute.topic,
        report_count=1,
        version=1,
        disabled=disabled,
        disabled_reason="maintenance" if disabled else None,
        forced_down=forced_down,
        last_seen_up=timeutils.utcnow() - seen,
    )
    service.create()
    free_ram = memory_mb if free_ram_mb is None else free_ram_mb
    free_disk = local_gb if free_disk_gb is None else free_disk_gb
    node = objects.ComputeNode(
        ctx,
        uuid=str(uuid.uuid4()),
        service_id=service.id,
        host=name,
        hypervisor_hostname=name,
        vcpus=vcpus,
        vcpus_used=vcpus_used,
        memory_mb=memory_mb,
        memory_mb_used=memory_mb - free_ram,
        free_ram_mb=free_ram,
        local_gb=local_gb,
        local_gb_used=local_gb - free_disk,
        free_disk_gb=free_disk,
        running_vms=0,
        hypervisor_type=hypervisor_type,
        hypervisor_version=hypervisor_version,
        cpu_allocation_ratio=1.0,
        ram_allocation_ratio=1.0,
        disk_allocation_ratio=1.0,
    )
    node.create()
    return node


def spec(memory_mb: int = 1024, vcpus: int = 1, root_gb: int = 10, **kwargs: Any) -> Any:
    return objects.RequestSpec(memory_mb=memory_mb, vcpus=vcpus, root_gb=root_gb, **kwargs)


def select(
    scheduler: Any, request: Any, ignore_hosts: list[str] | None = None, num: int = 1
) -> list[str]:
    """The RPC method called directly; its expected exceptions unwrapped as RPC does."""
    try:
        chosen = scheduler.select_destinations(get_admin_context(), request, ignore_hosts, num)
    except messaging.ExpectedException as wrapped:
        raise wrapped.exc_info[1] from None
    assert all(d["host"] == d["nodename"] for d in chosen)
    return [d["host"] for d in chosen]


def no_valid_host(scheduler: Any, request: Any, **kwargs: Any) -> str:
    with pytest.raises(exception.NoValidHost) as err:
        select(scheduler, request, **kwargs)
    return str(err.value)


# --- choosing ----------------------------------------------------------------------------


def test_the_weigher_spreads_instances_over_the_most_free_ram(ctx: Any, scheduler: Any) -> None:
    add_host(ctx, "small", memory_mb=4096)
    add_host(ctx, "big", memory_mb=16384)
    add_host(ctx, "mid", memory_mb=8192)
    chosen = [select(scheduler, spec(memory_mb=2048))[0] for _ in range(9)]
    # big takes four until it has as much free as mid; from then on ties go to the older
    # node (small, then big, then mid), so big and mid alternate until all three are even.
    assert chosen == ["big"] * 5 + ["mid", "big", "mid", "small"]


def test_a_negative_multiplier_stacks(ctx: Any, scheduler: Any, flags: Callable[..., None]) -> None:
    flags(group="scheduler", ram_weight_multiplier=-1.0)
    add_host(ctx, "a", memory_mb=8192)
    add_host(ctx, "b", memory_mb=4096)
    assert [select(scheduler, spec(memory_mb=1024))[0] for _ in range(5)] == ["b"] * 4 + ["a"]


def test_ignore_hosts_from_the_call_and_from_the_spec(ctx: Any, scheduler: Any) -> None:
    for name, memory in (("a", 8192), ("b", 4096), ("c", 2048)):
        add_host(ctx, name, memory_mb=memory)
    assert select(scheduler, spec(memory_mb=0), ignore_hosts=["a"]) == ["b"]
    assert select(scheduler, spec(memory_mb=0, ignore_hosts=["a", "b"])) == ["c"]
    assert select(scheduler, spec(memory_mb=0, ignore_hosts=["a"]), ignore_hosts=["b"]) == ["c"]
    message = no_valid_host(scheduler, spec(ignore_hosts=["a", "c"]), ignore_hosts=["b"])
    assert message == (
        "no valid host was found: every compute node (3 hosts) is on a host the request "
        "ignores (a, b, c)"
    )


def test_disabled_down_and_forced_down_hosts_are_never_chosen(ctx: Any, scheduler: Any) -> None:
    add_host(ctx, "disabled", memory_mb=65536, disabled=True)
    add_host(ctx, "silent", memory_mb=65536, seen=datetime.timedelta(seconds=3600))
    add_host(ctx, "forced", memory_mb=65536, forced_down=True)
    add_host(ctx, "ok", memory_mb=2048)
    assert {select(scheduler, spec(memory_mb=0))[0] for _ in range(5)} == {"ok"}
    states = {s.host: s for s in scheduler.host_states()}
    assert (states["disabled"].service_disabled, states["disabled"].disabled_reason) == (
        True,
        "maintenance",
    )
    assert not states["silent"].service_up and not states["forced"].service_up
    assert states["ok"].service_up and not states["ok"].service_disabled
    message = no_valid_host(scheduler, spec(memory_mb=0), ignore_hosts=["ok"])
    assert message == (
        "no valid host was found: ComputeFilter eliminated the last 3 hosts "
        "(request: 0 MB RAM, 1 vCPU, 10 GB disk)"
    )


@pytest.mark.parametrize(
    "request_values, expected",
    [
        (
            dict(memory_mb=2048, vcpus=2, root_gb=20),
            "RamFilter eliminated the last 3 hosts (request: 2048 MB RAM, 2 vCPUs, 20 GB disk)",
        ),
        (
            dict(memory_mb=512, vcpus=5, root_gb=20),
            "VcpuFilter eliminated the last 3 hosts (request: 512 MB RAM, 5 vCPUs, 20 GB disk)",
        ),
        (
            dict(memory_mb=512, vcpus=1, root_gb=30, ephemeral_gb=25),
            "DiskFilter eliminated the last 3 hosts (request: 512 MB RAM, 1 vCPU, 55 GB disk)",
        ),
        (
            dict(memory_mb=512, hypervisor_type="QEMU", min_hypervisor_version=8000000),
            "HypervisorTypeFilter eliminated the last 3 hosts (request: 512 MB RAM, 1 vCPU, "
            "10 GB disk, hypervisor QEMU version 8000000 or newer)",
        ),
    ],
)
def test_no_valid_host_names_the_filter_that_eliminated_the_last_hosts(
    ctx: Any, scheduler: Any, request_values: dict[str, Any], expected: str
) -> None:
    for name in ("a", "b", "c"):
        add_host(ctx, name, memory_mb=4096, free_ram_mb=1024, vcpus=4, local_gb=50)
    assert no_valid_host(scheduler, spec(**request_values)) == (
        f"no valid host was found: {expected}"
    )


def test_the_filter_named_is_the_one_that_removed_the_last_candidates(
    ctx: Any, scheduler: Any
) -> None:
    add_host(ctx, "down", memory_mb=65536, seen=datetime.timedelta(hours=1))
    add_host(ctx, "small", memory_mb=1024)
    add_host(ctx, "xen", memory_mb=65536, hypervisor_type="xen")
    # ComputeFilter removes "down", RamFilter "small", HypervisorTypeFilter the last one.
    message = no_valid_host(scheduler, spec(memory_mb=4096, hypervisor_type="QEMU"))
    assert message.startswith(
        "no valid host was found: HypervisorTypeFilter eliminated the last 1 host ("
    )


def test_no_compute_nodes_at_all(ctx: Any, scheduler: Any) -> None:
    assert no_valid_host(scheduler, spec()) == "no valid host was found: there are no compute nodes"


def test_bad_requests_are_refused_with_one_line(ctx: Any, scheduler: Any) -> None:
    add_host(ctx, "a")
    with pytest.raises(exception.Invalid) as err:
        select(scheduler, spec(), num=0)
    assert str(err.value) == "select_destinations: num must be an integer of at least 1, got 0"
    with pytest.raises(exception.Invalid, match="spec must be a RequestSpec object, got dict"):
        select(scheduler, {"memory_mb": 1})
    with pytest.raises(exception.Invalid, match="ignore_hosts must be a list of host names"):
        select(scheduler, spec(), ignore_hosts="a")  # type: ignore[arg-type]


# --- several instances at once -------------------------------------------------------------


def test_multi_instance_requests_place_one_at_a_time(ctx: Any, scheduler: Any) -> None:
    add_host(ctx, "a", memory_mb=4096)
    add_host(ctx, "b", memory_mb=3072)
    assert select(scheduler, spec(memory_mb=1024), num=5) == ["a", "a", "b", "a", "b"]
    free = {s.host: s.free_ram_mb for s in scheduler.host_states()}
    assert free == {"a": 1024, "b": 1024}


def test_a_multi_instance_request_that_does_not_fit_consumes_nothing(
    ctx: Any, scheduler: Any
) -> None:
    add_host(ctx, "a", memory_mb=4096)
    add_host(ctx, "b", memory_mb=2048)
    message = no_valid_host(scheduler, spec(memory_mb=2048, vcpus=1), num=4)
    assert message == (
        "no valid host was found: RamFilter eliminated the last 2 hosts for instance 4 of 4 "
        "(request: 2048 MB RAM, 1 vCPU, 10 GB disk)"
    )
    states = {
        s.host: (s.free_ram_mb, s.vcpus_used, s.num_instances_placed)
        for s in scheduler.host_states()
    }
    assert states == {"a": (4096, 0, 0), "b": (2048, 0, 0)}
    assert select(scheduler, spec(memory_mb=2048), num=3) == ["a", "a", "b"]


def test_concurrent_requests_do_not_all_land_on_one_host(ctx: Any, scheduler: Any) -> None:
    for name in ("a", "b", "c", "d"):
        add_host(ctx, name, memory_mb=16384, vcpus=16)
    scheduler.refresh_host_states()
    chosen: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def requests() -> None:
        try:
            start.wait(10)
            for _ in range(5):
                chosen.extend(select(scheduler, spec(memory_mb=1024)))
        except BaseException as error:  # noqa: B036 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=requests) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert collections.Counter(chosen) == {"a": 10, "b": 10, "c": 10, "d": 10}


def test_host_subset_size_chooses_among_the_best(
    ctx: Any, scheduler: Any, flags: Callable[..., None]
) -> None:
    add_host(ctx, "best", memory_mb=8192)
    add_host(ctx, "second", memory_mb=8000)
    add_host(ctx, "third", memory_mb=4096)
    request = spec(memory_mb=0, vcpus=0, root_gb=0)  # consumes nothing: the ranking stays
    assert {select(scheduler, request)[0] for _ in range(20)} == {"best"}
    flags(group="scheduler", host_subset_size=2)
    assert {select(scheduler, request)[0] for _ in range(60)} == {"best", "second"}


# --- the cache -----------------------------------------------------------------------------


def test_a_newer_report_replaces_what_the_scheduler_consumed(ctx: Any, scheduler: Any) -> None:
    node = add_host(ctx, "a", memory_mb=8192)
    assert select(scheduler, spec(memory_mb=3072), num=2) == ["a", "a"]
    [state] = scheduler.host_states()
    assert (state.free_ram_mb, state.num_instances_placed) == (2048, 2)

    scheduler.refresh_host_states()  # nothing changed: what was consumed stays
    [state] = scheduler.host_states()
    assert (state.free_ram_mb, state.num_instances_placed) == (2048, 2)

    node.memory_mb_used = 3072  # the host's report: one build claimed, one failed
    node.free_ram_mb = 5120
    node.save()
    scheduler.refresh_host_states()
    [state] = scheduler.host_states()
    assert (state.free_ram_mb, state.memory_mb_used, state.num_instances_placed) == (5120, 3072, 0)
    assert select(scheduler, spec(memory_mb=5120)) == ["a"]


def test_a_report_written_before_a_placement_does_not_erase_it(
    ctx: Any, scheduler: Any
) -> None:
    node = add_host(ctx, "a", memory_mb=8192)
    scheduler.refresh_host_states()
    seen = (node.updated_at or node.created_at).replace(tzinfo=None)
    assert select(scheduler, spec(memory_mb=3072)) == ["a"]
    # A row stamped after the view was read but before the placement (a report that
    # raced it) arrives afterwards: it cannot know of the placement; the view stays.
    with sqlalchemy.create_engine(CONF.database.connection).begin() as conn:
        conn.execute(
            sqlalchemy.text("UPDATE compute_nodes SET updated_at = :t WHERE id = :id"),
            {"t": seen + datetime.timedelta(microseconds=1), "id": node.id},
        )
    scheduler.refresh_host_states()
    [state] = scheduler.host_states()
    assert (state.free_ram_mb, state.num_instances_placed) == (8192 - 3072, 1)


def test_a_new_compute_host_is_found_by_a_request_that_finds_no_host(
    ctx: Any, scheduler: Any, flags: Callable[..., None]
) -> None:
    flags(group="scheduler", host_state_refresh_interval=3600)
    add_host(ctx, "old", memory_mb=1024)
    scheduler.refresh_host_states()
    add_host(ctx, "new", memory_mb=8192)  # reports after the view was read
    assert select(scheduler, spec(memory_mb=4096)) == ["new"]


def test_force_hosts_limits_the_choice(ctx: Any, scheduler: Any) -> None:
    add_host(ctx, "big", memory_mb=8192)
    add_host(ctx, "small", memory_mb=2048)
    assert select(scheduler, spec(memory_mb=512, force_hosts=["small"])) == ["small"]
    with pytest.raises(exception.NoValidHost):
        select(scheduler, spec(memory_mb=4096, force_hosts=["small"]))


def test_deleted_nodes_are_dropped_and_new_ones_appear(ctx: Any, scheduler: Any) -> None:
    gone = add_host(ctx, "gone", memory_mb=65536)
    add_host(ctx, "stays", memory_mb=4096)
    assert select(scheduler, spec(memory_mb=0)) == ["gone"]
    gone.destroy()
    scheduler.refresh_host_states()
    assert [s.host for s in scheduler.host_states()] == ["stays"]
    assert {select(scheduler, spec(memory_mb=0))[0] for _ in range(3)} == {"stays"}
    add_host(ctx, "new", memory_mb=32768)
    scheduler.refresh_host_states()
    assert [s.host for s in scheduler.host_states()] == ["stays", "new"]
    assert select(scheduler, spec(memory_mb=0)) == ["new"]


def test_liveness_changes_are_seen_at_the_next_refresh(ctx: Any, scheduler: Any) -> None:
    add_host(ctx, "a", memory_mb=65536)
    add_host(ctx, "b", memory_mb=4096)
    assert select(scheduler, spec(memory_mb=0)) == ["a"]
    record = objects.Service.get_by_host_and_binary(ctx, "a", "nubis-compute")
    record.disabled = True
    record.save()
    scheduler.refresh_host_states()
    assert select(scheduler, spec(memory_mb=0)) == ["b"]
    record.disabled = False
    record.forced_down = True
    record.save()
    scheduler.refresh_host_states()
    assert select(scheduler, spec(memory_mb=0)) == ["b"]
    record.forced_down = False
    record.save()
    scheduler.refresh_host_states()
    assert select(scheduler, spec(memory_mb=0)) == ["a"]


def test_requests_refresh_in_the_background_after_the_interval(
    ctx: Any, scheduler: Any, flags: Callable[..., None]
) -> None:
    flags(group="scheduler", host_state_refresh_interval=3600)
    add_host(ctx, "a", memory_mb=4096)
    assert select(scheduler, spec(memory_mb=0)) == ["a"]  # the first request reads
    add_host(ctx, "b", memory_mb=8192)
    assert select(scheduler, spec(memory_mb=0)) == ["a"]  # within the interval: cached
    flags(group="scheduler", host_state_refresh_interval=0)
    assert wait_until(lambda: select(scheduler, spec(memory_mb=0)) == ["b"], timeout=10)


def test_reset_reloads_filters_and_weighers(
    ctx: Any, scheduler: Any, flags: Callable[..., None]
) -> None:
    add_host(ctx, "a", memory_mb=1024)
    assert "RamFilter" in no_valid_host(scheduler, spec(memory_mb=2048))
    flags(group="scheduler", enabled_filters=["compute"], weighers=[])
    scheduler.reset()
    assert [f.name for f in scheduler.filters] == ["ComputeFilter"] and scheduler.weighers == []
    assert select(scheduler, spec(memory_mb=2048)) == ["a"]


def test_an_unknown_filter_name_fails_with_the_option(ctx: Any, flags: Callable[..., None]) -> None:
    flags(group="scheduler", enabled_filters=["compute", "numa"])
    with pytest.raises(exception.PluginNotFound) as err:
        plugins.load_one("nubis.managers", "scheduler")(host="sched")
    assert str(err.value) == (
        "no plugin 'numa' in nubis.scheduler.filters (chosen by [scheduler] enabled_filters); "
        "available: compute, disk, hypervisor_type, ram, server_group_affinity, "
        "server_group_anti_affinity, vcpu"
    )


def test_updated_since_includes_deleted_rows(db_url: str, flags: Callable[..., None]) -> None:
    flags(group="indirection", api="local")
    objects.register_all()
    base.install_indirection()
    try:
        ctx = get_admin_context()
        first = add_host(ctx, "a")
        second = add_host(ctx, "b")
        everything = objects.ComputeNodeList.get_updated_since(ctx, None)
        assert [n.host for n in everything] == ["a", "b"]
        later = timeutils.utcnow()
        assert list(objects.ComputeNodeList.get_updated_since(ctx, later.isoformat())) == []
        second.vcpus_used = 2
        second.save()
        first.destroy()
        changed = objects.ComputeNodeList.get_updated_since(ctx, later.isoformat())
        assert [(n.host, n.deleted) for n in changed] == [("a", True), ("b", False)]
        assert [n.host for n in objects.ComputeNodeList.get_updated_since(ctx, None)] == ["b"]
    finally:
        base.set_indirection_api(None)


# --- over RPC ------------------------------------------------------------------------------


def test_select_destinations_over_inproc(ctx: Any, flags: Callable[..., None]) -> None:
    from nubis.core.service import Service

    tag = uuid.uuid4().hex[:8]
    flags(transport_url=f"inproc:///scheduler-{tag}")
    flags(group="scheduler", topic=f"scheduler-{tag}")
    add_host(ctx, "a", memory_mb=4096)
    add_host(ctx, "b", memory_mb=8192)
    service = Service.create("scheduler", host="sched", periodic_enable=False)
    service.start()
    try:
        api = SchedulerAPI()
        request = spec(memory_mb=3072, instance_uuid=str(uuid.uuid4()))
        chosen = api.select_destinations(get_admin_context(), request, num=3)
        assert chosen == [
            {"host": "b", "nodename": "b"},
            {"host": "b", "nodename": "b"},
            {"host": "a", "nodename": "a"},
        ]
        with pytest.raises(exception.NoValidHost) as err:
            api.select_destinations(get_admin_context(), request, ignore_hosts=["a"])
        assert exception.one_line(err.value) == (
            "no valid host was found: RamFilter eliminated the last 1 host "
            "(request: 3072 MB RAM, 1 vCPU, 10 GB disk)"
        )
    finally:
        service.stop()


def test_a_failing_refresh_keeps_the_last_view_and_logs_once(
    ctx: Any,
    scheduler: Any,
    flags: Callable[..., None],
    tmp_path: Any,
    sqlite_db_url: str,
    caplog: Any,
) -> None:
    add_host(ctx, "a", memory_mb=4096)
    nothing = spec(memory_mb=0, vcpus=0, root_gb=0)
    assert select(scheduler, nothing) == ["a"]
    flags(group="scheduler", host_state_refresh_interval=0)
    caplog.set_level("INFO", logger="nubis.plugins.managers.scheduler")
    # The database loses its tables (an empty one is configured instead).
    flags(group="database", connection=f"sqlite:///{tmp_path}/empty.sqlite")
    for _ in range(20):  # each may start a background refresh, which fails
        assert select(scheduler, nothing) == ["a"]
        assert wait_until(lambda: not scheduler._refreshing, timeout=10)
    logged = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert len(logged) == 1 and logged[0][0] == "ERROR"
    assert logged[0][1].startswith(
        "cannot refresh the scheduler's host states, scheduling on the last ones read: "
    )
    assert "no such table: compute_nodes" in logged[0][1]
    with pytest.raises(Exception, match="no such table: compute_nodes"):
        scheduler.refresh_host_states()  # a forced refresh raises what the read raised
    flags(group="database", connection=sqlite_db_url)
    scheduler.refresh_host_states()
    assert caplog.records[-1].getMessage() == "the scheduler's host states are refreshed again"


def test_a_bad_name_at_reset_keeps_the_scheduler_as_it_was(
    ctx: Any, scheduler: Any, flags: Callable[..., None]
) -> None:
    add_host(ctx, "a", memory_mb=1024)
    assert select(scheduler, spec(memory_mb=512)) == ["a"]
    flags(group="scheduler", weighers=["ram", "nope"])
    with pytest.raises(exception.PluginNotFound, match=r"\[scheduler\] weighers"):
        scheduler.reset()
    assert [f.name for f in scheduler.filters] == [
        "ComputeFilter",
        "RamFilter",
        "VcpuFilter",
        "DiskFilter",
        "HypervisorTypeFilter",
        "ServerGroupAffinityFilter",
        "ServerGroupAntiAffinityFilter",
    ]
    [state] = scheduler.host_states()
    assert state.num_instances_placed == 1  # the cache was kept too
