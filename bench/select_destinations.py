"""select_destinations over 100, 1,000 and 10,000 compute nodes.

The hosts are real rows in SQLite, created through the objects (a compute service
record and one compute node each; 5 % disabled, 5 % silent for hours), and the
``scheduler`` manager reads them through the ``local`` indirection and the ``db``
servicegroup driver, as nubis-scheduler does. Requests use the default filters and
weigher, and the scheduler its default ``host_state_refresh_interval`` (1 s), so the
timed loops include the background refreshes they start. Per size, warm cache:

* one flavor (2048 MB, 2 vCPUs, 20 GB): the kept verdicts serve every request;
* four flavors in turn: one set of kept verdicts per flavor;
* full pass: what a deployment gets when one of its plugins does not declare
  ``spec_fields`` -- every node filtered and weighed on every request;
* at 10,000 hosts also through SchedulerAPI over inproc:// to a running service, as
  the conductor calls it.

The peer, measured in the same run on the same rows: what Nova's HostManager does on
every request -- read every compute node and every compute service, ask the
servicegroup about each service, build the host states, then run the same filter and
weigher plugins. The ratio is that baseline's p50 over the scheduler's.

Target: 10,000 hosts under 30 ms per select_destinations (p99, one flavor, warm
cache); the script exits 1 when it is missed.

Run: .venv/bin/python bench/select_destinations.py [--quick]
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import itertools
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import time_calls  # noqa: E402

SIZES = (100, 1000, 10000)
TARGET_HOSTS = 10000
TARGET_MS = 30.0
TIMED = {100: 300, 1000: 2000, 10000: 6000}  # 10,000: long enough to span refreshes
FULL_TIMED = {100: 200, 1000: 200, 10000: 100}
RPC_TIMED = 1000
FLAVORS = ((512, 1, 10), (2048, 2, 20), (4096, 4, 40), (8192, 8, 80))
BASELINE_TIMED = {100: 30, 1000: 10, 10000: 5}
_NAIVE: dict[str, Any] = {}


def _configure(workdir: str) -> Any:
    from nubis.core import objects, rpc
    from nubis.core.conf import CONF
    from nubis.core.db import migration
    from nubis.core.objects.base import install_indirection

    rpc.register_opts(CONF)
    CONF([], project="nubis")
    CONF.set_override("transport_url", "inproc:///bench-scheduler")
    CONF.set_override("connection", f"sqlite:///{workdir}/scheduler.sqlite", group="database")
    CONF.set_override("api", "local", group="indirection")
    CONF.set_override("driver", "db", group="servicegroup")
    # Creating 10,000 hosts takes longer than the default service_down_time: keep the
    # hosts meant to be up, up.
    CONF.set_override("service_down_time", 3600)
    objects.register_all()
    migration.db_sync()
    install_indirection()
    return CONF


def _add_hosts(ctx: Any, first: int, last: int) -> None:
    """Create hosts number *first* .. *last* - 1 (a service record and a node each)."""
    from oslo_utils import timeutils

    from nubis.core import objects

    now = timeutils.utcnow()
    for i in range(first, last):
        name = f"cmp{i:05d}"
        memory = (64, 128, 256)[i % 3] * 1024
        used = (i * 7919) % (memory // 2)
        service = objects.Service(
            ctx,
            host=name,
            binary="nubis-compute",
            topic="compute",
            report_count=1,
            version=1,
            disabled=i % 20 == 7,
            disabled_reason="maintenance" if i % 20 == 7 else None,
            last_seen_up=now - datetime.timedelta(hours=2 if i % 20 == 13 else 0),
        )
        service.create()
        objects.ComputeNode(
            ctx,
            uuid=str(uuid.uuid4()),
            service_id=service.id,
            host=name,
            hypervisor_hostname=name,
            vcpus=48,
            vcpus_used=i % 40,
            memory_mb=memory,
            memory_mb_used=used,
            free_ram_mb=memory - used,
            local_gb=2000,
            local_gb_used=(i * 31) % 1900,
            free_disk_gb=2000 - (i * 31) % 1900,
            disk_available_least=None,
            running_vms=i % 40,
            hypervisor_type="QEMU",
            hypervisor_version=7002000,
            cpu_allocation_ratio=4.0,
            ram_allocation_ratio=1.0,
            disk_allocation_ratio=1.0,
        ).create()


def _request(memory_mb: int = 2048, vcpus: int = 2, root_gb: int = 20) -> Any:
    from nubis.core import objects

    return objects.RequestSpec(memory_mb=memory_mb, vcpus=vcpus, root_gb=root_gb, ephemeral_gb=0)


def _naive_select(conf: Any, ctx: Any, filters: list[Any], weighers: list[Any]) -> str:
    """Nova's HostManager per request: read everything, then filter and weigh."""
    from nubis.core import objects
    from nubis.core.scheduler.host_state import HostState
    from nubis.core.scheduler.weighers import normalize
    from nubis.core.servicegroup.api import API

    if "servicegroup" not in _NAIVE:
        _NAIVE["servicegroup"] = API(conf)
    servicegroup = _NAIVE["servicegroup"]
    spec = _request()
    spec.obj_set_defaults()
    services = {s.host: s for s in objects.ServiceList.get_by_binary(ctx, "nubis-compute")}
    hosts = []
    for node in objects.ComputeNodeList.get_all(ctx):
        state = HostState.from_compute_node(node)
        service = services.get(node.host)
        state.service_up = service is not None and servicegroup.is_up(service)
        state.service_disabled = service is None or service.disabled
        hosts.append(state)
    for host_filter in filters:
        hosts = list(host_filter.filter_all(hosts, spec))
    totals = [0.0] * len(hosts)
    for weigher in weighers:
        for i, weight in enumerate(normalize([weigher.weigh(h, spec) for h in hosts])):
            totals[i] += weigher.multiplier * weight
    best = max(range(len(hosts)), key=totals.__getitem__)
    return str(hosts[best].host)


def _timed_loop(manager: Any, ctx: Any, specs: list[Any], count: int) -> dict[str, float]:
    cycle = itertools.cycle(specs)
    return time_calls(lambda: manager.select_destinations(ctx, next(cycle)), count, warmup=50)


def _measure(conf: Any, ctx: Any, manager_cls: Any, size: int) -> dict[str, float]:
    """One size: the scheduler warm (one flavor, four flavors, full pass) and the peer."""
    manager = manager_cls(host="bench-scheduler")
    began = time.perf_counter()
    manager.refresh_host_states()
    cold_s = time.perf_counter() - began
    refreshes = manager.refreshes
    one = _timed_loop(manager, ctx, [_request()], TIMED[size])
    refreshes = manager.refreshes - refreshes
    mixed = _timed_loop(manager, ctx, [_request(*f) for f in FLAVORS], TIMED[size])
    # What a deployment gets when one of its plugins does not declare spec_fields.
    manager._shape_fields = None
    full = _timed_loop(manager, ctx, [_request()], FULL_TIMED[size])
    naive = time_calls(
        lambda: _naive_select(conf, ctx, manager.filters, manager.weighers),
        BASELINE_TIMED[size],
        warmup=1,
    )
    manager.cleanup_host()
    return {
        "hosts": size,
        "cold_s": cold_s,
        "refreshes": refreshes,
        "p50": one["p50"],
        "p99": one["p99"],
        "mixed_p50": mixed["p50"],
        "mixed_p99": mixed["p99"],
        "full_p50": full["p50"],
        "full_p99": full["p99"],
        "naive_p50": naive["p50"],
    }


def _measure_rpc(ctx: Any, count: int) -> dict[str, float]:
    """select_destinations as the conductor calls it: SchedulerAPI to a running
    nubis-scheduler service over inproc://."""
    from nubis.core.scheduler.rpcapi import SchedulerAPI
    from nubis.core.service import Service

    service = Service.create("scheduler", host="bench-scheduler", periodic_enable=False)
    service.start()
    try:
        api = SchedulerAPI()
        spec = _request()
        return time_calls(lambda: api.select_destinations(ctx, spec), count, warmup=50)
    finally:
        service.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 hosts only")
    args = parser.parse_args()
    sizes = SIZES[:2] if args.quick else SIZES

    from nubis.core import plugins
    from nubis.core.context import get_admin_context

    workdir = tempfile.mkdtemp(prefix="nubis-bench-sched-")
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    conf = _configure(workdir)
    ctx = get_admin_context()
    manager_cls = plugins.load_one("nubis.managers", "scheduler")
    rows: list[dict[str, float]] = []
    created = 0
    print(
        f"select_destinations: 2048 MB / 2 vCPUs / 20 GB, filters "
        f"{', '.join(conf.scheduler.enabled_filters)}, weighers "
        f"{', '.join(conf.scheduler.weighers)}, SQLite in {workdir}"
    )
    for size in sizes:
        began = time.perf_counter()
        _add_hosts(ctx, created, size)
        created = size
        create_s = time.perf_counter() - began
        row = _measure(conf, ctx, manager_cls, size)
        rows.append(row)
        print(
            f"  {size:>6} hosts (rows created in {create_s:.1f} s, first read "
            f"{row['cold_s']:.2f} s):\n"
            f"      one flavor     p50 {row['p50']:7.2f} ms  p99 {row['p99']:7.2f} ms"
            f"   ({TIMED[size]} requests, {int(row['refreshes'])} background refreshes)\n"
            f"      four flavors   p50 {row['mixed_p50']:7.2f} ms  p99 {row['mixed_p99']:7.2f} ms\n"
            f"      full pass      p50 {row['full_p50']:7.2f} ms  p99 {row['full_p99']:7.2f} ms"
            f"   (a plugin without spec_fields: every node filtered per request)\n"
            f"      naive (peer)   p50 {row['naive_p50']:7.1f} ms"
        )
    if sizes[-1] == TARGET_HOSTS:
        rpc = _measure_rpc(ctx, RPC_TIMED)
        print(
            f"  {TARGET_HOSTS:>6} hosts through SchedulerAPI over inproc:// "
            f"(serializer, dispatcher, reply): p50 {rpc['p50']:.2f} ms  p99 {rpc['p99']:.2f} ms"
        )

    print("\ncurve (p50 / p99 in ms, one flavor):")
    previous = None
    for row in rows:
        growth = f"   x{row['p50'] / previous['p50']:.1f} for x10 hosts" if previous else ""
        print(f"  {int(row['hosts']):>6} hosts: {row['p50']:6.2f} / {row['p99']:6.2f}{growth}")
        previous = row
    print("\nratio (naive peer p50 / scheduler p50, one flavor; full pass in brackets):")
    for row in rows:
        print(
            f"  {int(row['hosts']):>6} hosts: {row['naive_p50'] / row['p50']:.0f}x "
            f"({row['naive_p50'] / row['full_p50']:.0f}x)"
        )

    target = [row for row in rows if row["hosts"] == TARGET_HOSTS]
    if not target:
        print(f"\ntarget: {TARGET_HOSTS:,} hosts under {TARGET_MS:.0f} ms: not measured (--quick)")
        return 0
    p99 = target[0]["p99"]
    met = p99 < TARGET_MS
    print(
        f"\ntarget: {TARGET_HOSTS:,} hosts under {TARGET_MS:.0f} ms (p99, warm cache): "
        f"{'met' if met else 'MISSED'} -- p99 {p99:.2f} ms"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
