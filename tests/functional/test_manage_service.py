"""``nubis-manage service ...`` run as the operator runs it: the real console script
in a subprocess, against a SQLite database this test fills.

Services are rows, not running processes: h1 reported just now, h2 long ago, so the
db driver says up and down; with the mc driver only the key in memcached counts.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from oslo_utils import timeutils

from nubis.core.context import get_admin_context

BIN = Path(sys.executable).parent
COMPUTE = "nubis-compute"


class Deployment:
    def __init__(self, tmp_path: Path, topic: str) -> None:
        self.tmp = tmp_path
        self.topic = topic
        self.config = tmp_path / "nubis.conf"
        self.write_config()

    def write_config(self, extra: str = "") -> None:
        self.config.write_text(
            f"[database]\nconnection = sqlite:///{self.tmp}/nubis.sqlite\n{extra}"
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "nubis-manage"), "--config-file", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def rows(self) -> dict[tuple[str, str], list[str]]:
        """``service list`` as {(host, binary): [topic, status, state, forced, last seen]}."""
        lines = self.ok("service", "list").splitlines()
        header = lines[0]
        starts = [
            header.index(h)
            for h in ("Host", "Binary", "Topic", "Status", "State", "Forced down", "Last seen up")
        ]
        table = {}
        for line in lines[1:]:
            cells = [
                line[a:b].strip() for a, b in zip(starts, [*starts[1:], len(line)], strict=True)
            ]
            table[(cells[0], cells[1])] = cells[2:]
        return table


@pytest.fixture
def deployment(tmp_path: Path, flags) -> Deployment:
    from nubis.core.db import api as db_api
    from nubis.core.db import engine, migration

    dep = Deployment(tmp_path, f"compute-{uuid.uuid4().hex[:8]}")
    flags(group="database", connection=f"sqlite:///{tmp_path}/nubis.sqlite")
    migration.db_sync()
    now = timeutils.utcnow()
    long_ago = now - datetime.timedelta(hours=1)
    ctx = get_admin_context()
    rows = [
        ("h1", COMPUTE, dep.topic, now),
        ("h2", COMPUTE, dep.topic, long_ago),
        ("h1", "nubis-conductor", "conductor", now),
    ]
    for host, binary, topic, seen in rows:
        db_api.service_create(
            ctx,
            {
                "host": host,
                "binary": binary,
                "topic": topic,
                "report_count": 1,
                "last_seen_up": seen,
                "created_at": seen,
            },
        )
    yield dep
    engine.reset()


def test_list_disable_enable_force_down(deployment: Deployment) -> None:
    rows = deployment.rows()
    assert set(rows) == {("h1", COMPUTE), ("h2", COMPUTE), ("h1", "nubis-conductor")}
    assert rows[("h1", COMPUTE)][:4] == [deployment.topic, "enabled", "up", "no"]
    assert rows[("h2", COMPUTE)][:4] == [deployment.topic, "enabled", "down", "no"]
    assert rows[("h1", "nubis-conductor")][2] == "up"
    assert "State (db)" in deployment.ok("service", "list").splitlines()[0]
    assert rows[("h2", COMPUTE)][4] != "never"

    out = deployment.ok("service", "disable", "h1", COMPUTE, "--reason", "disk swap")
    assert out.strip() == "nubis-compute on h1: disabled (disk swap)"
    assert deployment.rows()[("h1", COMPUTE)][1:3] == ["disabled (disk swap)", "up"]

    assert deployment.ok("service", "enable", "h1", COMPUTE).strip() == (
        "nubis-compute on h1: enabled"
    )
    assert deployment.rows()[("h1", COMPUTE)][1] == "enabled"

    assert deployment.ok("service", "force-down", "h1", COMPUTE).strip() == (
        "nubis-compute on h1: forced down"
    )
    assert deployment.rows()[("h1", COMPUTE)][2:4] == ["down", "yes"]
    deployment.ok("service", "force-down", "h1", COMPUTE, "--unset")
    assert deployment.rows()[("h1", COMPUTE)][2:4] == ["up", "no"]


def test_unknown_service_is_one_line_and_exit_2(deployment: Deployment) -> None:
    for args in (
        ("disable", "h9", COMPUTE),
        ("enable", "h9", COMPUTE),
        ("force-down", "h9", COMPUTE, "--unset"),
        ("disable", "h1", "nubis-scheduler"),
    ):
        result = deployment.run("service", *args)
        assert result.returncode == 2, args
        assert result.stderr.strip().splitlines() == [
            f"error: no {args[2]} service on host {args[1]}"
        ]
        assert result.stdout == ""


def test_state_comes_from_the_configured_driver(deployment: Deployment, memcached: str) -> None:
    from pymemcache.client.base import Client

    deployment.write_config(f"[servicegroup]\ndriver = mc\n[memcache]\nservers = {memcached}\n")
    client = Client(memcached, no_delay=True, connect_timeout=2, timeout=2)
    key = f"{deployment.topic}:h2"
    try:
        client.set(key, b"%f" % timeutils.utcnow().timestamp(), expire=30, noreply=False)
        rows = deployment.rows()
        assert rows[("h2", COMPUTE)][2] == "up"  # its key exists, its DB report is old
        assert rows[("h1", COMPUTE)][2] == "down"  # no key, however fresh its DB report
        assert "State (mc)" in deployment.ok("service", "list").splitlines()[0]
    finally:
        client.delete(key)
        client.close()


def test_empty_database(tmp_path: Path) -> None:
    dep = Deployment(tmp_path, "compute")
    dep.ok("db", "sync")
    assert dep.ok("service", "list").strip() == "no services"
