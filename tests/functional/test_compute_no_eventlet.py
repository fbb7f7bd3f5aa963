"""nubis-compute, run for real, never imports eventlet or dnspython.

The console script's function runs in its own process (libvirt driver on libvirt's
``test:///default``, ``inproc://``, SQLite, ``local`` indirection) until its first
resource audit completes; after SIGTERM the process writes the modules it imported.
On RabbitMQ, a server and a call work and the connection's heartbeat runs on a native
thread, in a process without eventlet. (The import-level check of every default compute plugin is in
tests/unit/core/test_native_threads.py.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tests.fixtures.require import require_port

BIN = Path(sys.executable).parent
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"

RUN_COMPUTE = textwrap.dedent(
    """
    import json, sys
    from nubis.core.cmd import services

    code = services.compute(sys.argv[2:])
    with open(sys.argv[1], "w") as out:
        json.dump(sorted(m for m, mod in sys.modules.items() if mod is not None), out)
    sys.exit(code)
    """
)


def test_nubis_compute_runs_without_eventlet_or_dns(tmp_path):
    log = tmp_path / "compute.log"
    config = tmp_path / "nubis.conf"
    config.write_text(
        f"""[DEFAULT]
host = threads-compute
transport_url = inproc://
log_file = {log}
periodic_fuzzy_delay = 0
report_interval = 60
[database]
connection = sqlite:///{tmp_path}/nubis.sqlite
[indirection]
api = local
[compute]
virt_driver = libvirt
[libvirt]
virt_type = test
connection_uri = test:///default
instances_path = {tmp_path}/instances
"""
    )
    subprocess.run(
        [BIN / "nubis-manage", "--config-file", config, "db", "sync"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    modules = tmp_path / "modules.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_COMPUTE, str(modules), "--config-file", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (log.exists() and "completed (first)" in log.read_text(errors="replace")):
            assert proc.poll() is None, f"nubis-compute exited {proc.returncode}: {proc.stderr}"
            assert time.monotonic() < deadline, "no completed resource audit within 60 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    imported = json.loads(modules.read_text())
    # It ran the real thing: the compute manager, the libvirt driver, an RPC server.
    for name in (
        "nubis.plugins.managers.compute.manager",
        "nubis.plugins.virt.libvirt.driver",
        "oslo_messaging.rpc.server",
        "oslo_service.backend._threading",
    ):
        assert name in imported
    assert [m for m in imported if m.split(".")[0] in ("eventlet", "dns", "greenlet")] == []


# A threading RPC server and a client on RabbitMQ with 1 s heartbeats, in a fresh process:
# the call is answered, and the heartbeat thread of oslo.messaging's rabbit driver runs
# (a native thread: there is no eventlet to green it).
RABBIT_CALL = textwrap.dedent(
    """
    import json, sys, threading, time
    from nubis.core import rpc  # first, as in every nubis binary
    import oslo_messaging as messaging
    from nubis.core.conf import CONF
    from nubis.core.context import get_admin_context

    rpc.register_opts(CONF)
    CONF([], project="nubis", default_config_files=[])
    CONF.set_override("transport_url", sys.argv[1])
    CONF.set_override("heartbeat_timeout_threshold", 2, group="oslo_messaging_rabbit")

    class Echo:
        target = messaging.Target(version="1.0")
        def echo(self, context, value):
            return value

    topic = sys.argv[2]
    server = rpc.get_server(messaging.Target(topic=topic, server="h"), [Echo()])
    server.start()
    try:
        client = rpc.get_client(messaging.Target(topic=topic, version="1.0"))
        answers = []
        for value in range(3):  # across several heartbeat intervals
            answers.append(client.prepare(timeout=10).call(get_admin_context(), "echo",
                                                           value=value))
            time.sleep(1.5)
        beats = [t for t in threading.enumerate() if t.name == "Rabbit-heartbeat"]
    finally:
        server.stop()
        server.wait()
        rpc.cleanup()
    print(json.dumps({
        "answers": answers,
        "heartbeat_threads": len(beats),
        "native": all(type(t).__module__ == "threading" for t in beats),
        "eventlet": sys.modules.get("eventlet") is not None,
    }))
    """
)


@pytest.mark.rabbit
def test_rabbit_calls_and_heartbeats_without_eventlet():
    require_port("RabbitMQ", "127.0.0.1", 5672)
    proc = subprocess.run(
        [sys.executable, "-c", RABBIT_CALL, RABBIT, f"threads-{uuid.uuid4().hex[:8]}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["answers"] == [0, 1, 2]
    assert result["heartbeat_threads"] >= 1
    assert result["native"] is True
    assert result["eventlet"] is False
