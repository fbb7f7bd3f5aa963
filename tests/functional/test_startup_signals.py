"""Signals are honoured in every phase of a real service process, and every wait is
bounded: start-up waits for the message bus, a conductor and the database end on
SIGTERM/SIGINT within seconds (exit 0); the bus wait ends by itself after
``rpc_response_timeout_startup`` (exit 2, one line, password masked); a graceful stop
that outlasts ``graceful_shutdown_timeout``, or meets a second signal, abandons the call
in flight (exit 1) instead of waiting for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.fixtures.require import require_port

BIN = Path(sys.executable).parent
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"


def closed_port() -> int:
    """A port nothing listens on (the OS picks a free one; the socket is closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(binary: str, config: Path, log: Path, env: dict[str, str] | None = None):
    with open(log, "w") as out:
        return subprocess.Popen(
            [BIN / binary, "--config-file", config],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def wait_for_line(proc: subprocess.Popen, log: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert proc.poll() is None, f"exited {proc.returncode} before {text!r}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n{log.read_text()}"
        time.sleep(0.05)


def stop_and_time(proc: subprocess.Popen, signum: int, timeout: float = 30) -> tuple[int, float]:
    began = time.monotonic()
    proc.send_signal(signum)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.wait()
        name = signal.Signals(signum).name
        raise AssertionError(f"still running {timeout} s after {name}") from exc
    return code, time.monotonic() - began


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.timeout(90)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_wait_for_an_absent_broker(tmp_path, signum):
    config = write(
        tmp_path / "nubis.conf",
        f"""[DEFAULT]
host = no-broker
state_path = {tmp_path}/state
transport_url = rabbit://guest:guest@127.0.0.1:{closed_port()}/

[database]
connection = sqlite:///{tmp_path}/state/nubis.sqlite
""",
    )
    log = tmp_path / "conductor.log"
    proc = start("nubis-conductor", config, log)
    try:
        wait_for_line(proc, log, "waiting for the message bus at rabbit://guest:***@127.0.0.1:")
        code, took = stop_and_time(proc, signum)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, log.read_text()
    assert took < 5, f"took {took:.1f} s"
    assert f"{signal.Signals(signum).name} during start-up: stopping" in log.read_text()
    assert "guest:guest" not in log.read_text()


@pytest.mark.timeout(60)
def test_the_wait_for_an_absent_broker_is_bounded(tmp_path):
    port = closed_port()
    config = write(
        tmp_path / "nubis.conf",
        f"""[DEFAULT]
host = no-broker
state_path = {tmp_path}/state
rpc_response_timeout_startup = 2
transport_url = rabbit://nubis:s3cret@127.0.0.1:{port}/

[database]
connection = sqlite:///{tmp_path}/state/nubis.sqlite
""",
    )
    began = time.monotonic()
    result = subprocess.run(
        [BIN / "nubis-conductor", "--config-file", config],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert time.monotonic() - began < 15
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: the message bus at rabbit://nubis:***@127.0.0.1:{port}/ ([DEFAULT] "
        "transport_url) did not answer within 2 s (rpc_response_timeout_startup): "
        "[Errno 111] Connection refused"
    )
    assert "s3cret" not in result.stderr + result.stdout


@pytest.mark.timeout(90)
def test_a_signal_ends_the_wait_for_a_conductor(tmp_path):
    # nubis-compute's objects go to a conductor; there is none on this in-process bus.
    config = write(
        tmp_path / "nubis.conf",
        f"""[DEFAULT]
host = lonely-compute
state_path = {tmp_path}/state
transport_url = inproc:///{uuid.uuid4().hex}

[compute]
virt_driver = fake
""",
    )
    log = tmp_path / "compute.log"
    proc = start("nubis-compute", config, log)
    try:
        wait_for_line(proc, log, "waiting for nubis-conductor")
        code, took = stop_and_time(proc, signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (code, took < 5) == (0, True), (took, log.read_text())


@pytest.mark.timeout(90)
def test_a_signal_ends_the_wait_for_the_database(tmp_path):
    pytest.importorskip("psycopg2")
    config = write(
        tmp_path / "nubis.conf",
        f"""[DEFAULT]
host = no-database
state_path = {tmp_path}/state
transport_url = inproc:///{uuid.uuid4().hex}

[database]
connection = postgresql://nubis:s3cret@127.0.0.1:{closed_port()}/nubis
""",
    )
    log = tmp_path / "conductor.log"
    proc = start("nubis-conductor", config, log)
    try:
        wait_for_line(proc, log, "connection refused")  # the DB layer's retry warning
        code, took = stop_and_time(proc, signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (code, took < 5) == (0, True), (took, log.read_text())
    assert "s3cret" not in log.read_text()


SLOW_MANAGER = """
import pathlib
import time

import oslo_messaging as messaging

from nubis.core.manager import Manager


class SlowManager(Manager):
    target = messaging.Target(version="1.0")
    service_name = "conductor"

    def slow(self, context, seconds, marker):
        pathlib.Path(marker).write_text("running")
        time.sleep(seconds)
        return "done"
"""


@pytest.fixture
def slow_service(request, tmp_path):
    """nubis-conductor running a manager whose ``slow`` call writes a marker file and
    then sleeps, on the machine's RabbitMQ, with ``graceful_shutdown_timeout`` =
    ``request.param``; yields (process, log, function starting a slow call and
    returning once it runs)."""
    require_port("RabbitMQ", "127.0.0.1", 5672)
    import oslo_messaging as messaging

    from nubis.core import rpc
    from nubis.core.conf import CONF
    from nubis.core.context import get_admin_context
    from tests.fixtures.plugin_dist import make_distribution
    from tests.functional.test_service_process import wait_for_ping

    plugin_root = make_distribution(
        tmp_path / "plugins",
        "nubis-slowplugin",
        {"nubis_slowplugin.__init__": "", "nubis_slowplugin.manager": SLOW_MANAGER},
        {"nubis.managers": {"testslow": "nubis_slowplugin.manager:SlowManager"}},
    )
    topic = f"abandon-{uuid.uuid4().hex[:8]}"
    config = write(
        tmp_path / "nubis.conf",
        f"""[DEFAULT]
host = proc-host
state_path = {tmp_path}/state
transport_url = {RABBIT}
periodic_enable = false
graceful_shutdown_timeout = {request.param}

[database]
connection = sqlite:///{tmp_path}/state/nubis.sqlite

[conductor]
manager = testslow
topic = {topic}
periodic_tasks =
""",
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{plugin_root}{os.pathsep}{env.get('PYTHONPATH', '')}"
    subprocess.run(
        [BIN / "nubis-manage", "--config-file", config, "db", "sync"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    CONF.set_override("transport_url", RABBIT)
    log = tmp_path / "service.log"
    proc = start("nubis-conductor", config, log, env=env)
    proc.log_path = log  # type: ignore[attr-defined]

    def call_slow() -> None:
        marker = tmp_path / f"running-{uuid.uuid4().hex[:6]}"
        target = messaging.Target(topic=topic, server="proc-host", version="1.0")
        client = rpc.get_client(target).prepare(timeout=60)

        def slow() -> None:
            try:
                client.call(get_admin_context(), "slow", seconds=30, marker=str(marker))
            except messaging.MessagingTimeout:
                pass

        threading.Thread(target=slow, daemon=True).start()
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)

    try:
        wait_for_ping(topic, proc)
        yield proc, log, call_slow
    finally:
        CONF.clear_override("transport_url")
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("slow_service", [2], indirect=True)
def test_a_stop_longer_than_graceful_shutdown_timeout_abandons_the_call(slow_service):
    proc, log, call_slow = slow_service
    call_slow()
    code, took = stop_and_time(proc, signal.SIGTERM)
    assert code == 1, log.read_text()
    assert 1.5 < took < 6, f"took {took:.1f} s"
    assert (
        "graceful_shutdown_timeout (2 s) passed while stopping nubis-conductor on proc-host; "
        "abandoning what is still running" in log.read_text()
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("slow_service", [60], indirect=True)
def test_a_second_signal_abandons_the_stop(slow_service):
    proc, log, call_slow = slow_service
    call_slow()
    proc.send_signal(signal.SIGTERM)
    wait_for_line(proc, log, "SIGTERM: stopping")
    code, took = stop_and_time(proc, signal.SIGINT)
    assert code == 1, log.read_text()
    assert took < 3, f"took {took:.1f} s"
    assert "a second SIGINT came while stopping nubis-conductor on proc-host" in log.read_text()
