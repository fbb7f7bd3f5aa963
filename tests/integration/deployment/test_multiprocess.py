"""End to end on the multi-process deployment of etc/nubis/deployment (DESIGN.md flows 2
and 3 across real processes).

Two nubis-conductor workers sharing the topic, nubis-scheduler and two nubis-compute
hosts run as separate processes on RabbitMQ, a fresh PostgreSQL database and ZooKeeper
membership, started with the ready configs plus the run's own file
(:mod:`tests.fixtures.deployment`). compute-1 drives the machine's libvirtd, compute-2 a
second libvirtd in its own mount namespace (:mod:`tests.fixtures.libvirt_hosts`); the
computes reach the database only through the conductors. This process is the API:
``nubis.core.compute.api.API`` with ``[indirection] api = conductor``.

Guests are real 64 MiB QEMU guests (diskless, or booting from a qcow2 overlay on a base
image only compute-1's images_path holds). compute-1 caps live-migration bandwidth at
1 MiB/s so a copy from it lasts a few seconds and its progress is seen. The run's only
other departures from the ready configs: ``rpc_response_timeout`` of 6 s (the forced
failure waits for one) and progress samples every 0.2 s.
"""

from __future__ import annotations

import shutil
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from nubis.core.compute.states import MigrationStatus, VMState
from nubis.core.context import get_admin_context
from nubis.core.rpc.baseapi import BaseAPI
from nubis.core.virt import power_state
from tests.fixtures.databases import ServerDatabases
from tests.fixtures.deployment import Deployment, make_base_image, poll, tear_down
from tests.fixtures.deployment_guests import Hypervisors
from tests.fixtures.deployment_operator import Operator
from tests.fixtures.libvirt_hosts import (  # noqa: F401
    SecondLibvirtHost,
    crash_second_host,
    second_libvirt_host,
    start_second_host,
)
from tests.fixtures.real_servers import libvirt_domain_type

pytestmark = [
    pytest.mark.rabbit,
    pytest.mark.postgresql,
    pytest.mark.zookeeper,
    pytest.mark.libvirtd,
]

RPC_TIMEOUT = 6
BASE_IMAGE = "e2e-base.qcow2"
MiB = 1024**2
C1, C2 = "compute-1", "compute-2"
CONDUCTORS = {"conductor-1", "conductor-2"}
BUILD_EVENTS = ("conductor_schedule_and_build_instances", "compute_build_and_run_instance")


class Run:
    """What the tests use: the processes, the API and both libvirtds."""

    def __init__(
        self, deployment: Deployment, hypervisors: Hypervisors, second: SecondLibvirtHost
    ) -> None:
        self.deployment = deployment
        self.op = Operator()
        self.hv = hypervisors
        self.second = second
        self.scheduler_fresh = True  # started last, nothing scheduled yet


@pytest.fixture(scope="module")
def run(
    request: pytest.FixtureRequest,
    rabbit_url: str,
    zookeeper: str,
    libvirt_uri: str,
    _server_databases: dict[str, ServerDatabases],
    second_libvirt_host: SecondLibvirtHost,  # noqa: F811
) -> Iterator[Run]:
    began = time.monotonic()
    failed_before = request.session.testsfailed
    databases = _server_databases["postgresql"]
    db_url = databases.create()
    deployment = Deployment(
        db_url,
        second_libvirt_host.uri,
        second_libvirt_host.main_uri_from_here,
        rabbit_url=rabbit_url,
        zookeeper_hosts=zookeeper,
        virt_type=libvirt_domain_type(),
        with_api=True,
        extra={
            "all": {"DEFAULT": {"rpc_response_timeout": RPC_TIMEOUT}},
            C1: {
                "libvirt": {"live_migration_bandwidth": 1, "live_migration_progress_interval": 0.2}
            },
            C2: {"libvirt": {"live_migration_progress_interval": 0.2}},
        },
    )
    hypervisors = Hypervisors({C1: libvirt_uri, C2: second_libvirt_host.uri})
    result: Run | None = None
    problems: list[str] = []
    try:
        make_base_image(deployment.paths[C1]["images"] / BASE_IMAGE)
        deployment.bring_up()
        result = Run(deployment, hypervisors, second_libvirt_host)
        print(
            f"\ndeployment of 6 processes (run {deployment.tag}) up in "
            f"{time.monotonic() - began:.1f} s"
        )
        yield result
    finally:
        problems = tear_down(deployment, result.op if result else None, hypervisors)
        databases.drop(db_url)
        if problems or request.session.testsfailed > failed_before:
            print(f"\nthe run's configs and logs are kept in {deployment.run_dir}")
        else:
            shutil.rmtree(deployment.run_dir, ignore_errors=True)
    assert not problems, f"clean-up of {deployment.run_dir}: " + "; ".join(problems)


@pytest.fixture
def clean(run: Run) -> Iterator[Run]:
    """The run; afterwards every instance is deleted and its guests are gone everywhere."""
    created_before = len(run.op.created)
    yield run
    mine = run.op.created[created_before:]
    run.op.delete_all()
    left = {u: hosts for u in mine if (hosts := run.hv.defined_on(u))}
    assert not left, f"guests of deleted instances still defined: {left}"


@pytest.fixture
def fresh_scheduler(run: Run) -> None:
    """A scheduler whose view of the compute nodes is current.

    nubis-scheduler schedules on its cached view and refreshes it in the background,
    started by a request: the first request after other tests changed the nodes (their
    instances deleted) sees the nodes as the previous request found them, and a
    background read that began before a claim can replace what the scheduler consumed
    for it. The weigher tests below state where instances go from the nodes' real usage,
    so they start with a scheduler that has just read every node (it does at start).
    """
    if run.scheduler_fresh:
        run.scheduler_fresh = False
        return
    run.deployment.restart("scheduler")


def events(actions: list[Any], action: str) -> list[tuple[str, str | None]]:
    """(event, result) of the last *action* of an instance."""
    found = [evs for name, evs in actions if name == action]
    assert found, f"no {action} action in {actions}"
    return [(event, result) for event, result, _host in found[-1]]


# --- the deployment --------------------------------------------------------------------------


def test_services_are_up_and_two_conductors_share_the_topic(run: Run) -> None:
    listing = run.deployment.manage("service", "list")
    rows = {line.split()[0]: line for line in listing.splitlines()[1:] if line.strip()}
    hosts = {svc.host for svc in run.deployment.services.values() if svc.group != "api"}
    assert set(rows) == hosts, listing
    assert "State (zk)" in listing.splitlines()[0], listing
    for host, line in rows.items():
        assert " up " in f" {line} " and "enabled" in line, f"{host}: {line}"

    # No server named: RabbitMQ hands the calls on the topic to the workers in turn.
    ping = BaseAPI(run.deployment.topics["conductor"])
    answered = {ping.ping(get_admin_context(), n, timeout=5)["host"] for n in range(8)}
    assert answered == CONDUCTORS
    print(f"\nnubis-manage service list:\n{listing}")


# --- builds ----------------------------------------------------------------------------------


def test_a_failed_build_is_rescheduled_to_the_other_host(clean: Run, fresh_scheduler: None) -> None:
    op = clean.op
    # compute-1 gets 1 GiB fuller, so the RAM weigher sends the next build to compute-2,
    # whose images_path lacks the base image: its build fails and is rescheduled.
    (filler,) = op.boot(memory_mb=1024, host=C1)
    assert filler.host == C1
    (inst,) = op.boot(image_ref=BASE_IMAGE)
    assert inst.host == C1
    assert clean.hv.running_on(inst.uuid) == [C1]
    assert clean.hv.defined_on(inst.uuid) == [C1]

    (fault,) = op.faults(inst.uuid)
    missing = clean.deployment.paths[C2]["images"] / BASE_IMAGE
    assert fault.host == C2 and f"base image {missing} does not exist" in fault.message, (
        fault.host,
        fault.message,
    )
    ((action, evs),) = op.ended_actions(inst.uuid)
    assert action == "create"
    assert [(e, r) for e, r, _ in evs] == [
        (BUILD_EVENTS[0], "Success"),
        (BUILD_EVENTS[1], "Error"),
        (BUILD_EVENTS[0], "Success"),
        (BUILD_EVENTS[1], "Success"),
    ]
    assert [h for _, _, h in evs][1::2] == [C2, C1]

    # The guest boots from an overlay in compute-1's instances_path over the base image;
    # compute-2 kept nothing of its attempt.
    dom = clean.hv.domain(C1, inst.uuid)
    assert dom is not None
    overlay = clean.deployment.paths[C1]["instances"] / inst.uuid / "disk"
    assert str(overlay) in dom.XMLDesc(0) and overlay.is_file()
    assert not (clean.deployment.paths[C2]["instances"] / inst.uuid).exists()


def test_four_instances_are_spread_two_and_two_by_the_ram_weigher(
    clean: Run, fresh_scheduler: None
) -> None:
    began = time.monotonic()
    instances = clean.op.boot(count=4)
    took = time.monotonic() - began
    assert sorted(i.host for i in instances) == [C1, C1, C2, C2]
    for inst in instances:
        assert clean.hv.running_on(inst.uuid) == [inst.host]
        assert inst.power_state == power_state.RUNNING
        ((action, evs),) = clean.op.ended_actions(inst.uuid)
        assert action == "create"
        assert [(e, r) for e, r, _ in evs] == [
            (BUILD_EVENTS[0], "Success"),
            (BUILD_EVENTS[1], "Success"),
        ]
        assert evs[0][2] in CONDUCTORS and evs[1][2] == inst.host
    print(f"\n4 real guests built through the conductor and the scheduler in {took:.1f} s")


# --- live migration --------------------------------------------------------------------------


def test_live_migration_scheduler_chosen_then_back_to_a_requested_host(clean: Run) -> None:
    op, hv = clean.op, clean.hv
    (inst,) = op.boot(host=C1)
    assert hv.running_on(inst.uuid) == [C1]

    began = time.monotonic()
    migration = op.api.live_migrate(op.ctx, inst)  # the scheduler chooses
    checked = time.monotonic() - began
    assert (migration.source_compute, migration.dest_compute) == (C1, C2)
    done, seen = op.follow_migration(migration.id, timeout=90)
    took = time.monotonic() - began
    assert done.status == MigrationStatus.COMPLETED, seen
    # Progress: libvirt's job statistics, written to the Migration by compute-1 while
    # the copy ran, read here through the conductors.
    running = [processed for status, processed in seen if status == MigrationStatus.RUNNING]
    assert len([p for p in running if p > 0]) >= 2, seen
    assert running == sorted(running), seen
    assert done.memory_total >= 64 * MiB and done.memory_processed >= running[-1] > 0

    moved = op.get(inst.uuid)
    assert (moved.host, moved.vm_state, moved.task_state) == (C2, VMState.ACTIVE, None)
    assert moved.power_state == power_state.RUNNING
    assert hv.running_on(inst.uuid) == [C2] and hv.defined_on(inst.uuid) == [C2]

    back_began = time.monotonic()
    back = op.api.live_migrate(op.ctx, moved, host=C1)
    assert (back.source_compute, back.dest_compute) == (C2, C1)
    back_done, back_seen = op.follow_migration(back.id, timeout=90)
    back_took = time.monotonic() - back_began
    assert back_done.status == MigrationStatus.COMPLETED, back_seen
    home = op.get(inst.uuid)
    assert (home.host, home.vm_state, home.task_state) == (C1, VMState.ACTIVE, None)
    assert hv.running_on(inst.uuid) == [C1] and hv.defined_on(inst.uuid) == [C1]

    assert [m.status for m in op.migrations(inst.uuid)] == [MigrationStatus.COMPLETED] * 2

    try:
        actions = op.ended_actions(inst.uuid)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n" + _warnings_of(clean, {C1, C2})) from None
    assert [a for a, _ in actions] == ["create", "live-migration", "live-migration"]
    for _, evs in actions[1:]:
        results = {event: result for event, result, _ in evs}
        for event in (
            "conductor_live_migrate_instance",
            "compute_check_can_live_migrate_destination",
            "compute_check_can_live_migrate_source",
            "compute_pre_live_migration",
            "compute_live_migration",
            "compute_post_live_migration_at_destination",
        ):
            assert results.get(event) == "Success", (event, evs)
    print(
        f"\nlive migration compute-1 -> compute-2 (scheduler-chosen, 1 MiB/s cap): "
        f"pre-checks {checked:.2f} s, completed after {took:.1f} s, "
        f"{done.memory_processed / MiB:.1f} MiB processed, statuses "
        f"{list(dict.fromkeys(s for s, _ in seen))}; back to compute-1 (requested, no cap): "
        f"{back_took:.1f} s"
    )


def scrape(run: Run, name: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Service *name*'s /metrics, on the port its config files give: sample -> value."""
    url = run.deployment.url(name, "metrics", "/metrics")
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """The sum of the *name* samples whose labels include *labels*."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def _warnings_of(run: Run, names: set[str]) -> str:
    """The WARNING and ERROR lines of the services *names* (the last 20 of each)."""
    out = []
    for name in sorted(names & set(run.deployment.services)):
        lines = [
            line
            for line in run.deployment.log_lines(name, "")
            if " WARNING " in line or " ERROR " in line
        ]
        out.append(f"--- {name}:\n" + "\n".join(lines[-20:]))
    return "\n".join(out)


def test_operator_tools_upgrade_check_ping_health_and_metrics(clean: Run) -> None:
    """docs/deployment.md's "Operating" section as written: nubis-status, service ping,
    nubis-api's /healthcheck and every process's /metrics, after a build and a live
    migration."""
    d, op = clean.deployment, clean.op
    status = d.command("nubis-status", "upgrade", "check")
    assert status.returncode == 0, status.stdout + status.stderr
    for svc in d.services.values():
        if svc.group == "api":
            continue
        ping = d.command("nubis-manage", "service", "ping", svc.host, svc.binary, "--timeout", "10")
        assert ping.returncode == 0 and "answered in" in ping.stdout, ping.stdout + ping.stderr
    with urllib.request.urlopen(d.url("api-1", "api", "/healthcheck"), timeout=10) as reply:
        assert (reply.status, reply.read()) == (200, b"OK")

    computes = (C1, C2)
    before = {n: scrape(clean, n) for n in (*computes, "conductor-1", "conductor-2", "scheduler")}
    (inst,) = op.boot(host=C2)
    migration = op.api.live_migrate(op.ctx, inst, host=C1)
    done, seen = op.follow_migration(migration.id, timeout=90)
    assert done.status == MigrationStatus.COMPLETED, seen
    after = {n: scrape(clean, n) for n in before}

    def moved(names: tuple[str, ...], name: str, **labels: str) -> float:
        return sum(
            total(after[n], name, **labels) - total(before[n], name, **labels) for n in names
        )

    build = "nubis_compute_build_duration_seconds_count"
    assert moved((C2,), build, outcome="active") == 1
    lm = "nubis_compute_live_migration_duration_seconds_count"
    assert moved((C2,), lm, outcome="completed") == 1
    conductors = ("conductor-1", "conductor-2")
    assert moved(conductors, "nubis_rpc_casts_total", method="build_and_run_instance") == 1
    calls = "nubis_rpc_call_duration_seconds_count"
    assert moved(conductors, calls, api="scheduler", method="select_destinations") >= 1
    assert moved(conductors, calls, api="compute", method="check_can_live_migrate_destination") >= 1
    assert moved((C2,), calls, api="compute", method="pre_live_migration") >= 1
    assert moved(computes, calls, api="conductor") > 0  # the computes' object calls
    up = {
        dict(labels)["host"]
        for (name, labels), value in after["scheduler"].items()
        if name == "nubis_servicegroup_member_up" and value == 1
    }
    assert {C1, C2} <= up, up
    requests = "nubis_api_request_duration_seconds_count"
    api_before = total(scrape(clean, "api-1"), requests, method="GET")
    with urllib.request.urlopen(d.url("api-1", "api", "/"), timeout=10) as reply:
        assert reply.status == 200
    assert total(scrape(clean, "api-1"), requests, method="GET") == api_before + 1
    print(
        "\nscrape after one build and one live migration: "
        + ", ".join(
            f"{n}: builds active +{moved((n,), build, outcome='active'):g}, "
            f"live migrations completed +{moved((n,), lm, outcome='completed'):g}"
            for n in computes
        )
        + f"; conductors' calls to the scheduler +{moved(conductors, calls, api='scheduler'):g}"
    )


def test_destination_host_down_mid_migration_rolls_back(clean: Run) -> None:
    op, hv, deployment = clean.op, clean.hv, clean.deployment
    (inst,) = op.boot(host=C1)
    migration = op.api.live_migrate(op.ctx, inst, host=C2)
    assert migration.dest_compute == C2
    poll(
        lambda: (
            (m := op.migration(migration.id)).status == MigrationStatus.RUNNING
            and (m.memory_processed or 0) > 0
        ),
        30,
        "the copy to compute-2 to be under way",
    )
    # compute-2 goes down mid-copy: its nubis-compute is SIGKILLed, then its libvirtd
    # and QEMUs (a power cut on that machine).
    deployment.kill(C2)
    crash_second_host(clean.second)
    hv.forget(C2)
    killed = time.monotonic()
    done, seen = op.follow_migration(migration.id, timeout=RPC_TIMEOUT * 3 + 30)
    ended_after = time.monotonic() - killed
    # The copy failed; the rollback on compute-2 could not run (nobody answers), so the
    # migration ends "error" rather than "failed".
    assert done.status == MigrationStatus.ERROR, seen
    assert MigrationStatus.RUNNING in [s for s, _ in seen]

    back = op.get(inst.uuid)
    assert (back.host, back.vm_state, back.task_state) == (C1, VMState.ACTIVE, None)
    assert back.power_state == power_state.RUNNING
    assert hv.running_on(inst.uuid, hosts=[C1]) == [C1]  # compute-2's libvirtd is down
    faults = op.faults(inst.uuid)
    assert faults and faults[0].host == C1, [(f.host, f.message) for f in faults]
    lm_events = dict(events(op.ended_actions(inst.uuid), "live-migration"))
    assert lm_events["conductor_live_migrate_instance"] == "Success", lm_events
    assert lm_events["compute_live_migration"] == "Error", lm_events

    # compute-2 boots again: its libvirtd forgot the half-arrived guest, its
    # nubis-compute rejoins, and the instance can go there after all.
    start_second_host(clean.second)
    deployment.start([C2])
    deployment.wait_ready([C2])
    assert hv.defined_on(inst.uuid) == [C1]
    again = op.api.live_migrate(op.ctx, op.get(inst.uuid), host=C2)
    again_done, again_seen = op.follow_migration(again.id, timeout=90)
    assert again_done.status == MigrationStatus.COMPLETED, again_seen
    assert op.get(inst.uuid).host == C2 and hv.running_on(inst.uuid) == [C2]
    print(
        f"\ndestination down mid-copy: migration {done.status} {ended_after:.1f} s after the "
        f"kill (rpc_response_timeout {RPC_TIMEOUT} s); statuses {[s for s, _ in seen]}"
    )
