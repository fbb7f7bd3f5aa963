"""The load phase of :mod:`bench.fleet`, driven through the REST API like a client.

:func:`run_load` sends a burst of builds (``--load``, from 16 threads, as
tests/faults/cloud.py drives its creates), waits until every one is ACTIVE (or ERROR),
deletes half of them, live-migrates ``--migrations`` of the rest to another host of the
same fleet process (the fake driver migrates between hosts of one process), and at the
largest fleet size also times a burst of ``--burst`` builds until all are ACTIVE and
``GET /servers/detail`` over ``--detail-rows`` instance records. Those records are
copies of one built instance's row inserted in one SQL statement on a host that does
not exist (no compute host audits them), so the API reads a realistic row ``--detail-rows``
times.

The scheduler's decision latency is the conductors' histogram of ``select_destinations``
calls over the first burst (see :mod:`bench.fleet_probe`).
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import TYPE_CHECKING, Any

import requests
import sqlalchemy

from bench import fleet_probe as probe
from bench._common import percentile

if TYPE_CHECKING:
    import argparse

    from bench.fleet import FleetCloud

SETTLE_TIMEOUT = 600.0
WORKERS = 16
CALL_HISTOGRAM = "nubis_rpc_call_duration_seconds"
ROLES = {
    "conductor": ("conductor-1", "conductor-2"),
    "scheduler": ("scheduler-1",),
    "api": ("api-1",),
}


def _conductor_histogram(cloud: FleetCloud) -> list[tuple[float, float]]:
    merged = probe.merge(probe.scrape(cloud.ports[n]) for n in ("conductor-1", "conductor-2"))
    return probe.histogram(merged, CALL_HISTOGRAM, api="scheduler", method="select_destinations")


def _builds(
    cloud: FleetCloud, prefix: str, count: int
) -> tuple[list[str], list[float], float, float]:
    """POST *count* servers from WORKERS threads; wait until all are ACTIVE or ERROR.
    Return the uuids, the POST latencies (s), and the seconds from the first POST until
    the last POST was answered and until the last instance settled."""
    began = time.monotonic()

    def one(index: int) -> tuple[str | None, float]:
        started = time.monotonic()
        answer = cloud.create(f"{prefix}-{index}", timeout=60)
        spent = time.monotonic() - started
        if answer.status_code != 202:
            print(f"  create {prefix}-{index}: {answer.status_code} {answer.text[:160]}")
            return None, spent
        return answer.json()["server"]["id"], spent

    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(one, range(count)))
    answered = time.monotonic() - began
    uuids = [u for u, _ in answers if u]
    states, _ = cloud.settle(uuids, SETTLE_TIMEOUT)
    settled = time.monotonic() - began
    not_active = [u for u, s in states.items() if s[0] != "active"]
    if not_active:
        print(
            f"  {len(not_active)} of {len(uuids)} builds did not end ACTIVE: "
            f"{states[not_active[0]]}"
        )
    return uuids, [s for _, s in answers], answered, settled


def _db(cloud: FleetCloud, sql: str, **params: Any) -> list[Any]:
    engine = sqlalchemy.create_engine(cloud.db_url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sqlalchemy.text(sql), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        engine.dispose()


def _deletes(cloud: FleetCloud, uuids: list[str]) -> float:
    began = time.monotonic()
    headers = cloud._headers()
    for server in uuids:
        answer = requests.delete(f"{cloud.url}/v2.1/servers/{server}", headers=headers, timeout=30)
        if answer.status_code != 204:
            print(f"  delete {server}: {answer.status_code} {answer.text[:160]}")

    def gone() -> bool:
        rows = _db(
            cloud,
            "SELECT count(*) FROM instances WHERE uuid = ANY(:u) AND deleted = 0",
            u=list(uuids),
        )
        return rows[0][0] == 0

    _wait(gone, SETTLE_TIMEOUT, "the deleted servers gone")
    return time.monotonic() - began


def _migrations(cloud: FleetCloud, uuids: list[str], count: int) -> float | None:
    rows = _db(cloud, "SELECT uuid, host FROM instances WHERE uuid = ANY(:u)", u=list(uuids))
    fleet_of = {h: f for f, hosts in cloud.fleets.items() for h in hosts}
    moves: dict[str, str] = {}
    for server, host in rows:
        siblings = [h for h in cloud.fleets[fleet_of[host]] if h != host]
        if siblings and len(moves) < count:
            moves[server] = siblings[len(moves) % len(siblings)]
    if not moves:
        return None
    began = time.monotonic()
    for server, dest in moves.items():
        answer = cloud.post(
            f"/v2.1/servers/{server}/action",
            {"os-migrateLive": {"host": dest, "block_migration": "auto"}},
        )
        if answer.status_code != 202:
            print(
                f"  live migration of {server} to {dest}: {answer.status_code} {answer.text[:160]}"
            )
            return None

    def moved() -> bool:
        found = _db(
            cloud,
            "SELECT uuid, host, task_state FROM instances WHERE uuid = ANY(:u)",
            u=list(moves),
        )
        return all(host == moves[u] and task is None for u, host, task in found)

    _wait(moved, SETTLE_TIMEOUT, "the live migrations done")
    return time.monotonic() - began


def _detail(cloud: FleetCloud, template: str, rows: int) -> dict[str, Any]:
    _db(
        cloud,
        "INSERT INTO instances (uuid, display_name, hostname, project_id, user_id, host, node, "
        "launched_on, image_ref, flavor_id, memory_mb, vcpus, root_gb, ephemeral_gb, "
        "vm_state, task_state, power_state, progress, scheduled_at, launched_at, "
        "availability_zone, locked, system_metadata, created_at, updated_at, deleted) "
        "SELECT gen_random_uuid()::text, 'bulk-' || n, 'bulk-' || n, project_id, user_id, "
        "'bulk-nohost', 'bulk-nohost', launched_on, image_ref, flavor_id, memory_mb, vcpus, "
        "root_gb, ephemeral_gb, vm_state, task_state, power_state, progress, scheduled_at, "
        "launched_at, availability_zone, locked, system_metadata, created_at, updated_at, 0 "
        "FROM instances, generate_series(1, :rows) AS n WHERE uuid = :t",
        rows=rows,
        t=template,
    )
    total = _db(cloud, "SELECT count(*) FROM instances WHERE deleted = 0")[0][0]

    def timed(path: str, count: int) -> list[float]:
        samples = []
        for _ in range(count):
            began = time.monotonic()
            answer = cloud.get(path, timeout=120)
            samples.append((time.monotonic() - began) * 1000)
            assert answer.status_code == 200, answer.text[:200]
        return samples

    first_page = timed("/v2.1/servers/detail", 20)
    small = timed("/v2.1/servers/detail?limit=100", 20)
    began = time.monotonic()
    marker, pages = "", 0
    while True:
        answer = cloud.get(f"/v2.1/servers/detail?limit=1000{marker}", timeout=120)
        servers = answer.json()["servers"]
        pages += 1
        if len(servers) < 1000:
            break
        marker = f"&marker={servers[-1]['id']}"
    walk = time.monotonic() - began
    return {
        "detail_rows": total,
        "detail_p50_ms": percentile(first_page, 50),
        "detail_p99_ms": percentile(first_page, 99),
        "detail_100_p50_ms": percentile(small, 50),
        "detail_walk_s": walk,
        "detail_walk_pages": pages,
    }


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.5)


def _cpu(cloud: FleetCloud, names: tuple[str, ...]) -> float:
    return sum(probe.cpu_seconds(cloud.pid(name)) for name in names)


def run_load(cloud: FleetCloud, args: argparse.Namespace, largest: bool) -> dict[str, Any]:
    """The load described in the module docstring; return its figures."""
    figures: dict[str, Any] = {}
    before = _conductor_histogram(cloud)
    cpu_before = {role: _cpu(cloud, names) for role, names in ROLES.items()}
    uuids, posts, _, settled = _builds(cloud, "load", args.load)
    cpu = {role: _cpu(cloud, names) - cpu_before[role] for role, names in ROLES.items()}
    after = _conductor_histogram(cloud)
    # CPU per build over the burst (the steady-state background included: small).
    for role, spent in cpu.items():
        figures[f"{role}_cpu_ms_per_build"] = spent * 1000 / max(1, len(uuids))
    decisions = probe.histogram_delta(after, before)
    figures.update(
        load_builds=len(uuids),
        load_active_s=settled,
        create_p50_ms=percentile(posts, 50) * 1000,
        sched_p50_ms=(probe.quantile(decisions, 0.5) or 0) * 1000,
        sched_p99_ms=(probe.quantile(decisions, 0.99) or 0) * 1000,
    )
    half = len(uuids) // 2
    figures["delete_s"] = _deletes(cloud, uuids[:half])
    figures["migrations_s"] = _migrations(cloud, uuids[half:], args.migrations)
    if largest and args.burst:
        cpu_before = {role: _cpu(cloud, names) for role, names in ROLES.items()}
        fleet_before, servers_before = _cpu(cloud, cloud.fleet_names()), probe.server_cpu()
        busy_before, iowait_before = probe.machine_cpu()
        burst, posts, answered, settled = _builds(cloud, "burst", args.burst)
        cpu = {role: _cpu(cloud, names) - cpu_before[role] for role, names in ROLES.items()}
        fleet = _cpu(cloud, cloud.fleet_names()) - fleet_before
        servers = {k: v - servers_before[k] for k, v in probe.server_cpu().items()}
        busy_after, iowait_after = probe.machine_cpu()
        busy, iowait = busy_after - busy_before, iowait_after - iowait_before
        figures.update(
            burst_builds=len(burst),
            burst_answered_s=answered,
            burst_create_p50_ms=percentile(posts, 50) * 1000,
            burst_active_s=settled,
            burst_control_cpu_cores=sum(cpu.values()) / settled,
            burst_cpu_cores=" / ".join(f"{cpu[role] / settled:.2f}" for role in ROLES),
            burst_machine_cores=f"{busy / settled:.2f} / {iowait / settled:.2f}",
            burst_other_cores=" / ".join(
                f"{v / settled:.2f}" for v in (fleet, *(servers[k] for k in probe.SERVER_COMMANDS))
            ),
        )
        figures.update(_detail(cloud, uuids[-1], args.detail_rows))
    return figures
