"""nubis's versioned RPC client against raw oslo.messaging, on the same RabbitMQ.

Both sides call a server in another process over the machine's RabbitMQ, in the same
run: the raw side with a plain dict context and a dict payload, the nubis side with a
RequestContext and a versioned object (ComputeNode) through nubis's serializers. The
payload is the same data. Target: nubis at most 1.1x the raw call (p50).

Run: .venv/bin/python bench/rpc_overhead.py [--calls N]
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import start_process, stop_process, time_calls  # noqa: E402

RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
TARGET_RATIO = 1.1


def _setup_conf() -> Any:
    from oslo_config import cfg

    from nubis.core import objects, rpc
    from nubis.core.conf import CONF

    rpc.register_opts(CONF)
    CONF([], project="nubis")
    CONF.set_override("transport_url", RABBIT)
    objects.register_all()
    return cfg.CONF


def serve(ready: Any, stop: Any, topic: str) -> None:
    conf = _setup_conf()
    import oslo_messaging as messaging

    from nubis.core import rpc


    class Raw:
        target = messaging.Target(namespace="raw", version="1.0")

        def echo(self, ctxt: Any, node: Any) -> Any:
            return node

    class Nubis:
        target = messaging.Target(version="1.0")

        def echo(self, context: Any, node: Any) -> Any:
            return node

    raw_transport = messaging.get_rpc_transport(conf, url=RABBIT)
    raw = messaging.get_rpc_server(
        raw_transport, messaging.Target(topic=f"{topic}-raw", server="s"), [Raw()],
        executor="threading",
    )
    nubis = rpc.get_server(messaging.Target(topic=f"{topic}-nubis", server="s"), [Nubis()])
    raw.start()
    nubis.start()
    ready.set()
    stop.wait()
    raw.stop()
    nubis.stop()


def sample_node(context: Any) -> Any:
    from nubis.core import objects

    node = objects.ComputeNode(context)
    for name, value in {
        "id": 1, "uuid": str(uuid.uuid4()), "host": "cmp1", "hypervisor_hostname": "node1",
        "vcpus": 16, "memory_mb": 65536, "local_gb": 1000, "vcpus_used": 4,
        "memory_mb_used": 8192, "local_gb_used": 100, "free_ram_mb": 57344,
        "free_disk_gb": 900, "running_vms": 4, "hypervisor_type": "QEMU",
        "hypervisor_version": 7002000, "cpu_info": "{}", "disk_available_least": 880,
    }.items():
        setattr(node, name, value)
    node.obj_reset_changes()
    return node


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    conf = _setup_conf()
    import oslo_messaging as messaging

    from nubis.core import rpc
    from nubis.core.context import get_admin_context

    topic = f"bench-{uuid.uuid4().hex[:8]}"
    proc, stop = start_process(serve, topic)
    try:
        context = get_admin_context()
        node = sample_node(context)
        primitive = node.obj_to_primitive()
        context_dict = context.to_dict()

        raw_transport = messaging.get_rpc_transport(conf, url=RABBIT)
        raw_client = messaging.get_rpc_client(
            raw_transport, messaging.Target(topic=f"{topic}-raw", server="s", namespace="raw",
                                            version="1.0"),
        ).prepare(timeout=30)
        nubis_client = rpc.get_client(
            messaging.Target(topic=f"{topic}-nubis", server="s", version="1.0")
        ).prepare(timeout=30)

        raw = time_calls(lambda: raw_client.call(context_dict, "echo", node=primitive), args.calls)
        nub = time_calls(lambda: nubis_client.call(context, "echo", node=node), args.calls)
    finally:
        stop_process(proc, stop)

    ratio = nub["p50"] / raw["p50"]
    print(f"RPC call over RabbitMQ, server in another process, {args.calls} calls each")
    print(f"{'path':<34}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for label, result in (("raw oslo.messaging (dict payload)", raw),
                          ("nubis client (context + object)", nub)):
        print(f"{label:<34}{result['p50']:>10.3f}{result['p99']:>10.3f}{result['mean']:>10.3f}")
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"ratio nubis/raw (p50): {ratio:.3f}x  target <= {TARGET_RATIO}x  {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
