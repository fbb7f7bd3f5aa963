"""``nubis-status upgrade check`` run as the operator runs it: the real console script in
a subprocess, on a SQLite database that ``nubis-manage db sync`` made.

Exit status as nova-status: 0 every check passed, 1 a warning, 2 a failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory

from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.db import migration
from tests.fixtures.silent_server import silent_server

BIN = Path(sys.executable).parent
#: How long a run may take beyond its database timeout (start-up of a Python process
#: with every nubis module, on a busy CI machine).
START_UP_BOUND = 30.0


class Deployment:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.config = tmp_path / "nubis.conf"
        self.write_config()

    def write_config(self, extra: str = "", connection: str = "") -> None:
        connection = connection or f"sqlite:///{self.tmp}/nubis.sqlite"
        self.config.write_text(
            f"[DEFAULT]\nstate_path = {self.tmp}\n[database]\nconnection = {connection}\n{extra}"
        )

    def run(self, binary: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / binary), "--config-file", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.tmp,
        )

    def sync(self, *args: str) -> None:
        result = self.run("nubis-manage", "db", "sync", *args)
        assert result.returncode == 0, result.stderr

    def check(self, *args: str) -> tuple[int, dict[str, Any]]:
        """Run the check with --json; return the exit status and {check: (result, details)}."""
        result = self.run("nubis-status", "upgrade", "check", "--json", *args)
        assert result.stdout, result.stderr
        answer = json.loads(result.stdout)
        return result.returncode, {
            c["check"]: (c["result"], c["details"]) for c in answer["checks"]
        }


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    return Deployment(tmp_path)


def test_at_head_every_check_passes_and_the_table_is_printed(deployment: Deployment) -> None:
    deployment.sync()
    result = deployment.run("nubis-status", "upgrade", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| Upgrade Check Results" in result.stdout
    for name in ("Database schema", "Service versions", "Object versions", "Deprecated options"):
        assert f"Check: {name}" in result.stdout
    assert result.stdout.count("Result: Success") == 6
    assert "Result: Warning" not in result.stdout


def test_one_revision_behind_fails(deployment: Deployment) -> None:
    script = ScriptDirectory.from_config(migration.alembic_config())
    head = script.get_revision(migration.head_version() or "")
    deployment.sync("--version", str(head.down_revision))
    code, checks = deployment.check()
    assert code == 2
    assert checks["Database schema"] == (
        2,
        f"Schema at revision {head.down_revision}, 1 behind the newest, {head.revision}. "
        "Run: nubis-manage db sync",
    )


def test_a_deprecated_option_is_a_warning(deployment: Deployment) -> None:
    deployment.sync()
    deployment.write_config("[oslo_messaging_rabbit]\ndirect_mandatory_flag = true\n")
    code, checks = deployment.check()
    assert code == 1
    result, details = checks["Deprecated options"]
    assert result == 1
    assert details.startswith(
        f"1 deprecated option(s) set: [oslo_messaging_rabbit] direct_mandatory_flag in "
        f"{deployment.config} is deprecated for removal"
    )
    assert {r for name, (r, _) in checks.items() if name != "Deprecated options"} == {0}


def test_a_bad_upgrade_levels_cap_fails(deployment: Deployment) -> None:
    deployment.sync()
    deployment.write_config("[upgrade_levels]\ncompute = 1.x\n")
    code, checks = deployment.check()
    assert code == 2
    assert checks["RPC version caps ([upgrade_levels])"] == (
        2,
        "[upgrade_levels] compute: '1.x' is neither 'auto' nor a version such as '1.2'; "
        f"use auto or a version up to {ComputeAPI.VERSION}.",
    )


def test_an_unreachable_database_fails_in_one_line_within_the_timeout(
    deployment: Deployment,
) -> None:
    with silent_server() as (host, port):
        deployment.write_config(connection=f"postgresql://nubis:secret@{host}:{port}/nubis")
        started = time.monotonic()
        code, checks = deployment.check("--database-timeout", "1")
        elapsed = time.monotonic() - started
    assert code == 2
    result, details = checks["Database schema"]
    assert (result, "\n" in details) == (2, False)
    assert details == (
        f"Cannot read the database: no answer from the database "
        f"postgresql://nubis:***@{host}:{port}/nubis ([database] connection) within 1 s. "
        "Check that the database server is up and [database] connection is right."
    )
    assert checks["Service versions"][0] == 2
    assert 1 <= elapsed < 1 + START_UP_BOUND


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["upgrade", "check", "--database-timeout", "0"], "'0' is not a number of seconds"),
        (["upgrade", "chek"], "invalid choice: 'chek'"),
    ],
)
def test_a_bad_command_line_is_one_error_line(deployment: Deployment, args, message) -> None:
    result = deployment.run("nubis-status", *args)
    assert result.returncode == 2
    assert message in result.stderr.strip().splitlines()[-1]
    assert result.stdout == ""
