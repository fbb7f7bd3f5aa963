"""A service binary in its own process on the machine's RabbitMQ, driven from this
one: it starts and answers a ping, runs its periodic tasks on schedule, SIGHUP reloads
the configuration and calls reset(), SIGTERM during a call lets the call finish and
exits 0 after cleanup_host; a bad plugin name exits 2 with one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import oslo_messaging as messaging
import pytest

from nubis.core import rpc
from nubis.core.context import get_admin_context
from nubis.core.rpc.baseapi import BaseAPI
from tests.fixtures import testplugins
from tests.fixtures.require import require_port

BIN = Path(sys.executable).parent
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"


def write_config(path: Path, tmp_path: Path, topic: str, manager: str = "testecho") -> Path:
    path.write_text(
        f"""[DEFAULT]
host = proc-host
transport_url = {RABBIT}
periodic_fuzzy_delay = 0
report_interval = 1
graceful_shutdown_timeout = 20

[database]
connection = sqlite:///{tmp_path}/nubis.sqlite

[conductor]
manager = {manager}
topic = {topic}
periodic_tasks = testtick
"""
    )
    return path


@pytest.fixture
def deployment(tmp_path, flags):
    require_port("RabbitMQ", "127.0.0.1", 5672)
    plugin_root = testplugins.install(tmp_path / "plugins")
    topic = f"proc-{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path / "nubis.conf", tmp_path, topic)
    env = dict(
        os.environ, PYTHONPATH=f"{plugin_root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    )
    env["NUBIS_TEST_CLEANUP_MARKER"] = str(tmp_path / "cleaned")
    subprocess.run(
        [BIN / "nubis-manage", "--config-file", config, "db", "sync"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    flags(transport_url=RABBIT)
    return {"config": config, "env": env, "topic": topic, "tmp": tmp_path}


def start(deployment) -> subprocess.Popen:
    # The log goes to a file: a pipe nobody reads fills up and blocks the service.
    log_path = deployment["tmp"] / "service.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [BIN / "nubis-conductor", "--config-file", deployment["config"]],
            env=deployment["env"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    proc.log_path = log_path  # type: ignore[attr-defined]
    return proc


def wait_for_ping(topic: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    api = BaseAPI(topic)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.log_path.read_text()
        try:
            api.ping(get_admin_context(), "up?", server="proc-host", timeout=1)
            return
        except messaging.MessagingTimeout:
            continue
    raise AssertionError("service did not answer a ping in time")


def client(topic: str, timeout: float = 10):
    target = messaging.Target(topic=topic, server="proc-host", version="1.0")
    return rpc.get_client(target).prepare(timeout=timeout)


@pytest.mark.timeout(90)
def test_service_process_signals(deployment):
    proc = start(deployment)
    try:
        wait_for_ping(deployment["topic"], proc)
        rpc_client = client(deployment["topic"])
        assert rpc_client.call(get_admin_context(), "echo", value="hello") == "hello"

        time.sleep(1.0)
        stats = rpc_client.call(get_admin_context(), "stats")
        assert stats["ticks"] >= 3 and stats["plugin_ticks"] >= 3
        assert stats["resets"] == 0 and stats["report_interval"] == 1

        # SIGHUP: a changed mutable option is reloaded and the manager is reset.
        config = deployment["config"]
        config.write_text(
            config.read_text().replace(
                "graceful_shutdown_timeout = 20", "graceful_shutdown_timeout = 30"
            )
        )
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while rpc_client.call(get_admin_context(), "stats")["resets"] != 1:
            assert time.monotonic() < deadline, proc.log_path.read_text()
            time.sleep(0.1)

        # SIGTERM while a call is in flight: the call still gets its answer.
        result = {}

        def slow():
            result["value"] = client(deployment["topic"], timeout=30).call(
                get_admin_context(), "slow", seconds=2
            )

        caller = threading.Thread(target=slow)
        caller.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        caller.join(30)
        assert result == {"value": "done"}
        assert proc.wait(30) == 0
        assert (deployment["tmp"] / "cleaned").read_text() == "cleaned"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_plugin_name_exits_2_with_one_line(deployment, tmp_path):
    config = write_config(tmp_path / "bad.conf", tmp_path, deployment["topic"], manager="xen")
    result = subprocess.run(
        [BIN / "nubis-conductor", "--config-file", config],
        env=deployment["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: no plugin 'xen' in nubis.managers (chosen by [conductor] manager); "
        "available: compute, conductor, scheduler, testecho"
    ]


def test_malformed_transport_url_exits_2(deployment, tmp_path):
    config = tmp_path / "badurl.conf"
    config.write_text("[DEFAULT]\ntransport_url = rabbit://guest@127.0.0.1:port/\n")
    result = subprocess.run(
        [BIN / "nubis-conductor", "--config-file", config],
        env=deployment["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: [DEFAULT] transport_url: ")
