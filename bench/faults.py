"""Infrastructure faults on a multi-process nubis, and what durable queues cost.

Measured in ONE run on private servers (tests/faults/servers.py: a RabbitMQ node on
31672, PostgreSQL on 31432, ZooKeeper on 32181 -- never the machine's shared ones):

1. Steady-state cost of the RPC queues' durability, on the same private broker, one
   oslo.messaging threading RPC server in another process and one client here, per
   mode: classic non-durable queues (oslo's default), classic durable queues
   (``amqp_durable_queues``, nubis' deployment default) and quorum queues
   (``rabbit_quorum_queue``): casts/s (N casts timed until the server processed them
   all) and call p50/p99.
2. The fault table of the issue, on the deployment of tests/faults/cloud.py (two
   conductors, a scheduler, three fake computes, nubis-api): for each fault, creates
   sent through the REST API while it happens; acknowledged (202), refused (503),
   ended ACTIVE, ERROR with a fault, ERROR without one, stuck after the bound, and the
   seconds until the services answered again after the server returned.

Run as root: ``.venv/bin/python bench/faults.py [--quick] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

warnings.simplefilter("ignore")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import percentile  # noqa: E402
from tests.faults.cloud import FaultCloud, tally  # noqa: E402
from tests.faults.servers import PrivatePostgres, PrivateRabbit, PrivateZooKeeper  # noqa: E402

MODES = {
    "non-durable (oslo default)": {},
    "durable (amqp_durable_queues)": {"amqp_durable_queues": True},
    "quorum (rabbit_quorum_queue)": {"rabbit_quorum_queue": True},
}


def _messaging(url: str, options: dict[str, Any]) -> tuple[Any, Any]:
    import oslo_messaging as messaging
    from oslo_config import cfg
    from oslo_messaging import transport as oslo_transport
    from oslo_messaging._drivers import amqp, impl_rabbit

    conf = cfg.CONF
    conf([], project="nubis-bench")
    conf.register_opts(impl_rabbit.rabbit_opts, group="oslo_messaging_rabbit")
    conf.register_opts(amqp.amqp_opts, group="oslo_messaging_rabbit")
    # An exchange per mode: one declared non-durable cannot be re-declared durable.
    conf.register_opts(oslo_transport._transport_opts)
    mode = "-".join(sorted(options)) or "plain"
    conf.set_override("control_exchange", f"nubis-bench-{mode}")
    for name, value in options.items():
        conf.set_override(name, value, group="oslo_messaging_rabbit")
    return messaging, messaging.get_rpc_transport(conf, url=url)


def _server(ready: Any, stop: Any, url: str, topic: str, options: dict[str, Any]) -> None:
    messaging, transport = _messaging(url, options)

    class Endpoint:
        count = 0

        def ping(self, ctxt: Any, value: int) -> int:
            return value

        def bump(self, ctxt: Any) -> None:
            Endpoint.count += 1

        def counted(self, ctxt: Any) -> int:
            return Endpoint.count

    server = messaging.get_rpc_server(
        transport,
        messaging.Target(topic=topic, server="bench"),
        [Endpoint()],
        executor="threading",
    )
    server.start()
    ready.set()
    stop.wait()
    server.stop()
    server.wait()
    transport.cleanup()


def _client(
    results: Any, url: str, topic: str, options: dict[str, Any], casts: int, calls: int
) -> None:
    messaging, transport = _messaging(url, options)
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
    for i in range(50):
        client.call({}, "ping", value=i)
    samples = []
    for i in range(calls):
        began = time.perf_counter()
        client.call({}, "ping", value=i)
        samples.append((time.perf_counter() - began) * 1000)
    before = client.call({}, "counted")
    began = time.perf_counter()
    for _ in range(casts):
        client.cast({}, "bump")
    while client.call({}, "counted") < before + casts:
        time.sleep(0.01)
    spent = time.perf_counter() - began
    results.put(
        {
            "casts_per_s": casts / spent,
            "call_p50_ms": percentile(samples, 50),
            "call_p99_ms": percentile(samples, 99),
        }
    )
    transport.cleanup()


def queue_cost(url: str, casts: int, calls: int) -> dict[str, dict[str, float]]:
    """Each mode with a fresh server process and a fresh client process (oslo's global
    configuration and connection pools must not carry one mode into the next)."""
    results = {}
    ctx = multiprocessing.get_context("spawn")
    for mode, options in MODES.items():
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        ready, stop = ctx.Event(), ctx.Event()
        proc = ctx.Process(target=_server, args=(ready, stop, url, topic, options), daemon=True)
        proc.start()
        if not ready.wait(60):
            proc.kill()
            raise RuntimeError(f"{mode}: the RPC server did not start")
        out = ctx.Queue()
        client = ctx.Process(
            target=_client, args=(out, url, topic, options, casts, calls), daemon=True
        )
        client.start()
        try:
            results[mode] = out.get(timeout=300)
        finally:
            client.join(30)
            stop.set()
            proc.join(30)
            for child in (client, proc):
                if child.is_alive():
                    child.kill()
    return results


def fault_table(
    root: Path, rabbit: Any, postgres: Any, zookeeper: Any, quick: bool
) -> list[dict[str, Any]]:
    run_dir = root / "run"
    run_dir.mkdir(mode=0o755)
    cloud = FaultCloud(run_dir, postgres.url, rabbit.url, zookeeper.hosts)
    rows = []
    scale = 0.5 if quick else 1.0
    try:
        cloud.bring_up()

        def run(
            name: str, prefix: str, stop: Any, start: Any, down: float, count: int, burst: int
        ) -> None:
            recovered: list[float] = []

            def fault() -> None:
                stop()
                time.sleep(down)
                start()
                recovered.append(cloud.wait_ready(120))

            outcome = cloud.drive(
                prefix, int(count * scale), 0.5, during=fault, burst=int(burst * scale)
            )
            states, settled = cloud.settle(outcome.acknowledged, 90)
            counts = tally(states)
            reads = sorted(outcome.read_latencies) or [0.0]
            rows.append(
                {
                    "fault": name,
                    "acknowledged": len(outcome.acknowledged),
                    "refused_503": outcome.refused,
                    "active": counts["active"],
                    "error_with_fault": counts["error_with_fault"],
                    "error_without_fault": counts["error_without_fault"],
                    "stuck": counts["stuck"],
                    "settled_s": round(settled, 1),
                    "services_ready_s": round(recovered[-1], 1) if recovered else None,
                    "read_max_s": round(reads[-1], 2),
                    "write_max_s": round(max(outcome.write_latencies or [0.0]), 2),
                }
            )

        run("RabbitMQ restart (~20 s away)", "b-rabbit", rabbit.stop, rabbit.start, 12, 40, 20)
        run(
            "PostgreSQL stopped 15 s",
            "b-pg",
            postgres.stop_server,
            postgres.start_server,
            15,
            30,
            30,
        )
        run("ZooKeeper stopped 18 s", "b-zk", zookeeper.stop, zookeeper.start, 18, 30, 0)
    finally:
        cloud.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-faults", action="store_true", help="only the queue cost")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="nubis-bench-faults-", dir="/var/tmp"))
    rabbit, postgres, zookeeper = PrivateRabbit(root), PrivatePostgres(root), PrivateZooKeeper(root)
    try:
        zookeeper.start()
        postgres.start()
        rabbit.start()
        cost = queue_cost(rabbit.url, 1000 if args.quick else 3000, 200 if args.quick else 1000)
        rows = [] if args.no_faults else fault_table(root, rabbit, postgres, zookeeper, args.quick)
    finally:
        rabbit.shutdown()
        postgres.shutdown()
        zookeeper.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps({"queues": cost, "faults": rows}, indent=2))
        return 0
    print("RPC queue durability on one private RabbitMQ (same run):")
    base = cost["non-durable (oslo default)"]
    for mode, r in cost.items():
        ratio = r["casts_per_s"] / base["casts_per_s"]
        print(
            f"  {mode:32s} {r['casts_per_s']:8.0f} casts/s ({ratio:.2f}x)"
            f"   call p50 {r['call_p50_ms']:.2f} ms  p99 {r['call_p99_ms']:.2f} ms"
        )
    if rows:
        print("\nFaults (creates through the REST API while the server is away):")
        head = (
            "fault",
            "acknowledged",
            "refused_503",
            "active",
            "error_with_fault",
            "error_without_fault",
            "stuck",
            "settled_s",
            "services_ready_s",
            "read_max_s",
            "write_max_s",
        )
        print("  " + " | ".join(head))
        for row in rows:
            print("  " + " | ".join(str(row[h]) for h in head))
    return 0


if __name__ == "__main__":
    sys.exit(main())
