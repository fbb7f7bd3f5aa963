"""A remotable ``ComputeNode.save()`` through the conductor against the raw equivalent.

In one run, with the conductor side in another process on the machine's RabbitMQ and
one SQLite file (WAL):

* nubis: ``node.vcpus_used = n; node.save()`` on a process whose indirection API is
  ``conductor`` — the object crosses the bus, the conductor runs ``save`` against the
  database and the field diff comes back;
* raw: an oslo.messaging call to a plain endpoint in the same server process that runs
  the same UPDATE with SQLAlchemy Core.

The two are timed call by call in turn (nubis, raw, nubis, ...), so that whatever else
the machine is doing slows both alike. Target: the object path costs at most 1.5x the
raw path (p50). Also printed, for the embedded default, the same save with the
conductor in this process on ``inproc://`` (goal: under 1 ms) and on
``kombu+memory:////`` (PEERS.md measured Nova's at 10.6 ms p50 there; Nova itself is
not run here).

Run: .venv/bin/python bench/remotable_save.py [--calls N] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import percentile, start_process, stop_process, time_calls  # noqa: E402

RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
TARGET_RATIO = 1.5
NOVA_KOMBU_MEMORY_P50_MS = 10.6  # PEERS.md, measured on this project's machines


def _configure(transport_url: str, db_url: str, topic: str) -> Any:
    from nubis.core import objects, rpc
    from nubis.core.conf import CONF

    rpc.register_opts(CONF)
    if not CONF._args:  # parse once per process
        CONF([], project="nubis")
    CONF.set_override("transport_url", transport_url)
    CONF.set_override("connection", db_url, group="database")
    CONF.set_override("topic", topic, group="conductor")
    objects.register_all()
    return CONF


def serve(ready: Any, stop: Any, db_url: str, topic: str) -> None:
    """The conductor side: nubis's DB conductor and a raw endpoint on one database."""
    _configure(RABBIT, db_url, topic)
    import oslo_messaging as messaging
    import sqlalchemy
    from oslo_utils import timeutils

    from nubis.core import rpc
    from nubis.core.db import engine
    from nubis.core.objects.base import install_indirection
    from nubis.core.plugins import load_one

    install_indirection()  # local: the conductor owns the database
    conductor = load_one("nubis.managers", "conductor")(host="bench")
    nubis_server = rpc.get_server(messaging.Target(topic=topic, server="bench"), [conductor])

    statement = sqlalchemy.text(
        "UPDATE compute_nodes SET vcpus_used = :vcpus_used, updated_at = :now WHERE id = :id"
    )
    db = engine.get_engine()

    class Raw:
        target = messaging.Target(version="1.0")

        def update_node(self, ctxt: Any, node_id: int, vcpus_used: int) -> None:
            with db.begin() as conn:
                conn.execute(
                    statement, {"vcpus_used": vcpus_used, "now": timeutils.utcnow(), "id": node_id}
                )

    raw_transport = messaging.get_rpc_transport(rpc.get_transport().conf, url=RABBIT)
    raw_server = messaging.get_rpc_server(
        raw_transport, messaging.Target(topic=f"{topic}-raw", server="bench"), [Raw()],
        executor="threading",
    )
    nubis_server.start()
    raw_server.start()
    ready.set()
    stop.wait()
    nubis_server.stop()
    raw_server.stop()


def make_node(context: Any) -> Any:
    from nubis.core import objects

    node = objects.ComputeNode(context)
    node.uuid = str(uuid.uuid4())
    node.host, node.hypervisor_hostname = "cmp1", f"node-{node.uuid[:8]}"
    node.vcpus, node.memory_mb, node.local_gb = 16, 65536, 1000
    node.vcpus_used = node.memory_mb_used = node.local_gb_used = 0
    node.create()
    return node


def saver(node: Any) -> Any:
    counter = iter(range(10**9))

    def save() -> None:
        node.vcpus_used = next(counter) % 16
        node.save()

    return save


def time_in_turn(
    calls: dict[str, Callable[[], Any]], count: int, warmup: int = 50
) -> dict[str, dict[str, float]]:
    """Run every call of *calls* once per round, *warmup* + *count* rounds; return the
    p50/p99/mean latency (ms) of each, as ``time_calls`` does for one."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(count):
        for name, call in calls.items():
            began = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - began) * 1000)
    return {
        name: {
            "p50": percentile(taken, 50),
            "p99": percentile(taken, 99),
            "mean": statistics.fmean(taken),
        }
        for name, taken in samples.items()
    }


def in_process(transport_url: str, db_url: str, calls: int) -> dict[str, float]:
    """The save with a conductor RPC server in this process on *transport_url*."""
    import oslo_messaging as messaging

    from nubis.core import rpc
    from nubis.core.context import get_admin_context
    from nubis.core.objects import base
    from nubis.core.plugins import load_one

    topic = f"conductor-{uuid.uuid4().hex[:8]}"
    _configure(transport_url, db_url, topic)
    base.set_indirection_api(None)
    node = make_node(get_admin_context())
    conductor = load_one("nubis.managers", "conductor")(host="bench")
    server = rpc.get_server(messaging.Target(topic=topic, server="bench"), [conductor])
    server.start()
    base.set_indirection_api(load_one("nubis.indirection", "conductor")())
    try:
        return time_calls(saver(node), calls)
    finally:
        base.set_indirection_api(None)
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="200 calls each")
    args = parser.parse_args()
    calls = 200 if args.quick else args.calls

    workdir = Path(tempfile.mkdtemp(prefix="nubis-bench-"))
    db_url = f"sqlite:///{workdir}/nubis.sqlite"
    topic = f"conductor-{uuid.uuid4().hex[:8]}"
    _configure(RABBIT, db_url, topic)
    import oslo_messaging as messaging

    from nubis.core import rpc
    from nubis.core.context import get_admin_context
    from nubis.core.db import migration
    from nubis.core.objects import base
    from nubis.core.plugins import load_one

    migration.db_sync()
    context = get_admin_context()
    node = make_node(context)
    local = time_calls(saver(node), calls)

    proc, stop = start_process(serve, db_url, topic)
    try:
        raw_client = messaging.get_rpc_client(
            messaging.get_rpc_transport(rpc.get_transport().conf, url=RABBIT),
            messaging.Target(topic=f"{topic}-raw", version="1.0"),
        ).prepare(timeout=30)
        counter = iter(range(10**9))

        def raw_update() -> None:
            raw_client.call({}, "update_node", node_id=node.id, vcpus_used=next(counter) % 16)

        base.set_indirection_api(load_one("nubis.indirection", "conductor")())
        timed = time_in_turn({"remote": saver(node), "raw": raw_update}, calls)
        remote, raw = timed["remote"], timed["raw"]
    finally:
        base.set_indirection_api(None)
        stop_process(proc, stop)

    inproc = in_process("inproc://", db_url, calls)
    kombu = in_process("kombu+memory:////", db_url, calls)

    ratio = remote["p50"] / raw["p50"]
    print(f"ComputeNode.save() through the conductor, SQLite (WAL), {calls} calls each")
    print(f"{'path':<58}{'p50 ms':>9}{'p99 ms':>9}")
    rows = (
        ("local save, no RPC", local),
        ("raw oslo.messaging call + same UPDATE (RabbitMQ, 2 procs)", raw),
        ("nubis remotable save via conductor (RabbitMQ, 2 procs)", remote),
        ("nubis remotable save via conductor (inproc://, 1 proc)", inproc),
        ("nubis remotable save via conductor (kombu+memory, 1 proc)", kombu),
    )
    for label, result in rows:
        print(f"{label:<58}{result['p50']:>9.3f}{result['p99']:>9.3f}")
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"ratio object/raw on RabbitMQ (p50): {ratio:.2f}x  target <= {TARGET_RATIO}x  {verdict}")
    print(f"inproc:// p50 {inproc['p50']:.3f} ms  goal < 1 ms  "
          f"{'met' if inproc['p50'] < 1 else 'not met'}")
    print(f"kombu+memory p50 {kombu['p50']:.3f} ms vs Nova's {NOVA_KOMBU_MEMORY_P50_MS} ms "
          f"(PEERS.md): {NOVA_KOMBU_MEMORY_P50_MS / kombu['p50']:.1f}x faster")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
