"""Live migration end to end through nubis against a bare libvirt migrateToURI3, one run.

Starts the multi-process deployment of etc/nubis/deployment (two nubis-conductor
workers, nubis-scheduler, nubis-compute on the machine's libvirtd and on a second
libvirtd in its own mount namespace; RabbitMQ, a fresh PostgreSQL database, ZooKeeper)
exactly as tests/integration/deployment/test_multiprocess.py does (shared code:
tests/fixtures/deployment.py), boots one 64 MiB diskless guest on compute-1 and
measures, alternately, in both directions:

* nubis: ``API.live_migrate(host=...)`` in this process -> the conductor's checks
  (the destination's and the source's pre-checks) -> the cast to the source compute ->
  pre_live_migration on the destination -> the libvirt copy -> post-migration on the
  destination -> the Migration ``completed``, as this process sees it (polling the
  Migration through the conductors every ``--poll`` seconds, 0.05 by default: polling
  much faster loads the conductors and the database enough to slow the copy on a
  small machine);
* bare: ``migrateToURI3`` of the same guest between the same two daemons, with the
  flags and URIs the libvirt driver uses, there and back, while the instance carries a
  task state so neither compute service reacts to its guest moving (as during nubis's
  own migrations).

No bandwidth cap and the ready configs' settings, except ``periodic_enable = false``
(nothing periodic runs between samples). One warm-up round is not counted. Prints
each direction's median for both, the libvirt copy inside nubis's migration (from the
source's log), the ratio nubis / bare and nubis's overhead in ms. Other work on this
machine moves single samples by up to a second (a QEMU starting on the destination is
most of a migration of such a small guest): compare medians of several rounds.

Run: .venv/bin/python bench/live_migration_e2e.py [--rounds N]   (as root: it starts a
second libvirtd)
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

C1, C2 = "compute-1", "compute-2"
MAIN_URI = "qemu:///system"


def prerequisites() -> list[str]:
    from tests.fixtures.real_servers import LIBVIRT_SOCK, host_port, servers_env
    from tests.fixtures.require import port_open

    env = servers_env()
    missing = [
        f"{name} on {address}"
        for name, address in (
            ("RabbitMQ", "127.0.0.1:5672"),
            ("PostgreSQL", "127.0.0.1:5432"),
            ("ZooKeeper", env["NUBIS_ZK_HOSTS"]),
        )
        if not port_open(*host_port(address))
    ]
    if not LIBVIRT_SOCK.is_socket():
        missing.append(f"libvirtd ({LIBVIRT_SOCK})")
    return missing


def configure() -> None:
    from oslo_log import log as logging

    from nubis.core import rpc
    from nubis.core.conf import CONF

    logging.register_options(CONF)
    rpc.register_opts(CONF)
    CONF([], project="nubis", default_config_files=[])


def nubis_migrate(op: Any, instance_uuid: str, dest: str, poll: float) -> tuple[float, float]:
    """Live-migrate through the API; return (seconds until the API returned, seconds
    until the Migration was completed)."""
    from nubis.core.compute.states import MigrationStatus

    began = time.perf_counter()
    migration = op.api.live_migrate(op.ctx, op.get(instance_uuid), host=dest)
    accepted = time.perf_counter() - began
    done, seen = op.follow_migration(migration.id, timeout=120, interval=poll)
    took = time.perf_counter() - began
    if done.status != MigrationStatus.COMPLETED:
        raise RuntimeError(f"nubis live migration to {dest} ended {done.status}: {seen}")
    if op.get(instance_uuid).host != dest:
        raise RuntimeError(f"the instance is not on {dest} after its migration completed")
    return accepted, took


class NubisLooksAway:
    """While open, the instance carries a task state (``migrating``), so neither compute
    service acts on the lifecycle events its guest raises as the bench moves it behind
    nubis's back -- as during nubis's own migrations. Leave with the guest back where
    the database says it is."""

    def __init__(self, op: Any, instance_uuid: str) -> None:
        self.op = op
        self.instance_uuid = instance_uuid

    def __enter__(self) -> None:
        from nubis.core.compute.states import TaskState

        inst = self.op.get(self.instance_uuid)
        inst.task_state = TaskState.MIGRATING
        inst.save(expected_task_state=[None])

    def __exit__(self, *exc: object) -> None:
        from nubis.core.compute.states import TaskState

        inst = self.op.get(self.instance_uuid)
        inst.task_state = None
        inst.save(expected_task_state=[TaskState.MIGRATING])


def bare_migrate(hv: Any, instance_uuid: str, source: str, dest_uri: str) -> float:
    """migrateToURI3 with the libvirt driver's flags; return the seconds it took."""
    from nubis.plugins.virt.libvirt.migration import FLAGS

    dom = hv.domain(source, instance_uuid)
    began = time.perf_counter()
    dom.migrateToURI3(dest_uri, {}, FLAGS)
    return time.perf_counter() - began


def copy_seconds(deployment: Any, instance_uuid: str) -> dict[tuple[str, str], list[float]]:
    """{(source, destination): [seconds of each libvirt copy, from the source's log]}."""
    found: dict[tuple[str, str], list[float]] = {}
    for src, dst in ((C1, C2), (C2, C1)):
        pattern = re.compile(
            rf"live migration of {instance_uuid} to {dst}: completed after ([0-9.]+) s"
        )
        found[(src, dst)] = [
            float(m.group(1))
            for line in deployment.log_lines(src, instance_uuid)
            if (m := pattern.search(line))
        ]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="counted rounds (default 5)")
    parser.add_argument(
        "--poll", type=float, default=0.05, help="seconds between reads of the Migration"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: need at least 1")
    if not 0.001 <= args.poll <= 1:
        parser.error(f"--poll {args.poll}: need 0.001 to 1 seconds")
    missing = prerequisites()
    if missing:
        print(f"cannot run: not available: {', '.join(missing)}; "
              "run tests/provisioning/provision.sh")
        return 2

    from tests.fixtures.databases import ServerDatabases
    from tests.fixtures.deployment import Deployment, tear_down
    from tests.fixtures.deployment_guests import Hypervisors
    from tests.fixtures.deployment_operator import Operator
    from tests.fixtures.libvirt_hosts import start_second_host, stop_second_host
    from tests.fixtures.real_servers import libvirt_domain_type, servers_env

    configure()
    env = servers_env()
    second = start_second_host()
    databases = ServerDatabases("postgresql")
    deployment: Deployment | None = None
    hv = Hypervisors({C1: MAIN_URI, C2: second.uri})
    op: Operator | None = None
    problems: list[str] = []
    finished = False
    try:
        db_url = databases.create()
        deployment = Deployment(
            db_url,
            second.uri,
            second.main_uri_from_here,
            rabbit_url=env["NUBIS_RABBIT_URL"],
            zookeeper_hosts=env["NUBIS_ZK_HOSTS"],
            virt_type=libvirt_domain_type(),
            extra={"all": {"DEFAULT": {"periodic_enable": False}}},
        )
        began = time.perf_counter()
        deployment.bring_up()
        print(f"deployment up in {time.perf_counter() - began:.1f} s (run {deployment.tag})")
        op = Operator()
        (inst,) = op.boot(host=C1)
        if inst.host != C1:
            raise RuntimeError(f"the build on requested host {C1} landed on {inst.host}")
        uris = {C1: second.main_uri_from_here, C2: second.uri}  # how the source reaches each
        nubis: dict[str, list[float]] = {"1->2": [], "2->1": []}
        accepted: list[float] = []
        bare: dict[str, list[float]] = {"1->2": [], "2->1": []}
        directions = (("1->2", C1, C2), ("2->1", C2, C1))
        for round_ in range(args.rounds + 1):
            for key, _src, dst in directions:
                api_s, total_s = nubis_migrate(op, inst.uuid, dst, args.poll)
                if round_:
                    nubis[key].append(total_s)
                    accepted.append(api_s)
            with NubisLooksAway(op, inst.uuid):
                for key, src, dst in directions:
                    bare_s = bare_migrate(hv, inst.uuid, src, uris[dst])
                    if round_:
                        bare[key].append(bare_s)
        copies = copy_seconds(deployment, inst.uuid)
        print(
            f"\nlive migration of a running 64 MiB diskless guest between two libvirtds, "
            f"{args.rounds} rounds (median):"
        )
        print(
            f"{'direction':<24}{'nubis e2e':>10}{'(its copy)':>12}{'bare libvirt':>14}"
            f"{'ratio':>7}{'overhead':>10}"
        )
        for key, src, dst in directions:
            n, b = statistics.median(nubis[key]), statistics.median(bare[key])
            copy = statistics.median(copies[(src, dst)][-args.rounds :])
            print(
                f"{src} -> {dst:<12}{n * 1000:>8.0f}ms{copy * 1000:>10.0f}ms"
                f"{b * 1000:>12.0f}ms{n / b:>7.2f}{(n - b) * 1000:>8.0f}ms"
            )
        for key, src, dst in directions:
            samples = {
                "nubis": nubis[key],
                "copy": copies[(src, dst)][-args.rounds :],
                "bare": bare[key],
            }
            print(
                f"  samples {src} -> {dst}: "
                + "; ".join(f"{k} " + " ".join(f"{v:.2f}" for v in vs) for k, vs in samples.items())
            )
        print(
            f"the API call (conductor pre-checks, Migration record, cast) returned after "
            f"{statistics.median(accepted) * 1000:.0f} ms (median); (its copy): the libvirt "
            f"copy as the source's driver logged it (0.1 s resolution)"
        )
        finished = True
    finally:
        if deployment is not None:
            problems = tear_down(deployment, op, hv)
        hv.close()
        databases.close()
        stop_second_host(second)
        if deployment is not None:
            if problems:
                print(f"clean-up problems: {problems}")
            if problems or not finished:
                print(f"the run's configs and logs are kept in {deployment.run_dir}")
            else:
                shutil.rmtree(deployment.run_dir, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
