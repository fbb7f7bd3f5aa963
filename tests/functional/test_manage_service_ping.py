"""``nubis-manage service ping HOST BINARY``: a conductor, a scheduler and a compute
service run in this process; the probe under the command
(:func:`nubis.core.rpc.probe.ping`) is called here over ``inproc://``, and the real
console script, in a subprocess, over the machine's RabbitMQ (topics and hosts of this
test's own, deleted afterwards).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nubis.core.conf import CONF
from nubis.core.rpc import probe
from tests.fixtures.inproc_cloud import inproc_services

BIN = Path(sys.executable).parent
BINARIES = {"cond": "nubis-conductor", "sched": "nubis-scheduler", "cmp1": "nubis-compute"}


@pytest.fixture
def inproc(_migrated_urls: Callable[[str], str], tmp_path: Path) -> Iterator[dict[str, Any]]:
    with inproc_services(_migrated_urls("sqlite"), tmp_path, computes=("cmp1",)) as (services, _):
        yield services


def test_every_binary_answers(inproc: dict[str, Any]) -> None:
    for host, binary in BINARIES.items():
        assert 0 < probe.ping(CONF, host, binary, timeout=5.0) < 5.0


def test_no_answer_within_the_bound(inproc: dict[str, Any]) -> None:
    for host, binary in (("nohost", "nubis-compute"), ("cond", "nubis-scheduler")):
        started = time.monotonic()
        with pytest.raises(probe.PingFailed) as raised:
            probe.ping(CONF, host, binary, timeout=0.5)
        elapsed = time.monotonic() - started
        topic = CONF[binary.removeprefix("nubis-")].topic
        assert str(raised.value) == (
            f"no answer from {binary} on {host} (topic {topic}) within 0.5 s"
        )
        assert 0.5 <= elapsed < 1.5


def test_unknown_binary() -> None:
    with pytest.raises(probe.PingFailed) as raised:
        probe.ping(CONF, "cmp1", "nubis-api", timeout=0.5)
    assert str(raised.value) == (
        "unknown binary 'nubis-api'; one of nubis-compute, nubis-conductor, nubis-scheduler"
    )


# --- the console script over RabbitMQ ----------------------------------------------------


def _forget(rabbit_url: str, topics: list[str], hosts: list[str]) -> None:
    """Delete the queues and fanout exchanges the services declared on RabbitMQ."""
    import kombu

    with kombu.Connection("amqp://" + rabbit_url.split("://", 1)[1], connect_timeout=5) as conn:
        channel = conn.channel()
        for topic in topics:
            for queue in [topic, *(f"{topic}.{host}" for host in hosts)]:
                channel.queue_delete(queue)
            channel.exchange_delete(f"{topic}_fanout")


@pytest.fixture
def rabbit_services(
    rabbit_url: str, tmp_path: Path, flags: Callable[..., None]
) -> Iterator[tuple[dict[str, str], Path]]:
    """The three services on RabbitMQ; yields ``({host: binary}, config file)``."""
    from nubis.core.conformance import deployment

    tag = uuid.uuid4().hex[:8]
    hosts = {f"{host}-{tag}": binary for host, binary in BINARIES.items()}
    with deployment.embedded(flags, tmp_path) as cloud:
        flags(transport_url=rabbit_url)
        topics = [str(CONF[group].topic) for group in ("conductor", "scheduler", "compute")]
        try:
            for host, binary in hosts.items():
                cloud.start(binary.removeprefix("nubis-"), host=host)
            config = tmp_path / "ping.conf"
            config.write_text(
                f"[DEFAULT]\ntransport_url = {rabbit_url}\n"
                + "".join(
                    f"[{group}]\ntopic = {CONF[group].topic}\n"
                    for group in ("conductor", "scheduler", "compute")
                )
            )
            yield hosts, config
        finally:
            cloud.stop()
            _forget(rabbit_url, topics, list(hosts))


def ping(config: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [str(BIN / "nubis-manage"), "--config-file", str(config), "service", "ping", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, time.monotonic() - started


@pytest.mark.rabbit
def test_console_script_over_rabbitmq(rabbit_services: tuple[dict[str, str], Path]) -> None:
    hosts, config = rabbit_services
    for host, binary in hosts.items():
        result, _ = ping(config, host, binary, "--timeout", "10")
        assert result.returncode == 0, result.stderr
        assert re.fullmatch(rf"{binary} on {host}: answered in \d+ ms\n", result.stdout)

    result, elapsed = ping(config, "nohost", "nubis-compute", "--timeout", "1")
    assert result.returncode == 1
    assert result.stdout == ""
    no_answer = f"no answer from nubis-compute on nohost (topic {CONF.compute.topic}) within 1 s"
    assert result.stderr == f"error: {no_answer}\n"
    # The ping itself is bounded by 1 s (checked in-process above); the rest is the
    # interpreter starting on a machine that may be busy.
    assert elapsed < 1 + 15


def test_console_script_without_a_bus(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = sock.getsockname()[1]
        config = tmp_path / "ping.conf"
        config.write_text(f"[DEFAULT]\ntransport_url = rabbit://guest:s3cret@127.0.0.1:{port}/\n")
        result, _ = ping(config, "cmp1", "nubis-compute", "--timeout", "5")
    assert result.returncode == 1
    assert result.stderr == (
        f"error: the message bus at rabbit://guest:***@127.0.0.1:{port}/ is unreachable: "
        "[Errno 111] Connection refused\n"
    )

    result, _ = ping(config, "cmp1", "nubis-api")
    assert result.returncode == 1
    assert result.stderr.startswith("error: unknown binary 'nubis-api'; one of ")

    result, _ = ping(config, "cmp1", "nubis-compute", "--timeout", "-1")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "nubis-manage service ping: error: argument --timeout: '-1' is not a number of "
        "seconds in (0, 3600]"
    )
