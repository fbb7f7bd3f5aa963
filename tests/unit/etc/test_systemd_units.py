"""The systemd units of etc/systemd/: ``systemd-analyze verify`` finds nothing to say
about any of them, ``systemd-analyze security`` rates each exposure at most 2.0 ("OK"),
and each carries the settings the binaries rely on (Type=notify, the stop timeout above
``graceful_shutdown_timeout``, KillMode=mixed, the restart policy, the sandbox).

The units name the binaries as ``/opt/nubis/bin/...`` (a virtualenv made with ``python3
-m venv /opt/nubis``); ``verify`` checks that ExecStart names an executable, so the test
verifies copies whose ExecStart names this virtualenv's binaries instead. systemd need
not be running: ``verify`` and ``security --offline`` read the files.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nubis.core.conf import CONF
from tests.fixtures.require import missing

UNITS_DIR = Path(__file__).parents[3] / "etc" / "systemd"
INSTALLED_BIN = "/opt/nubis/bin/"
BIN = Path(sys.executable).parent

#: unit -> (binary, the configuration files it reads, in order).
UNITS = {
    "nubis-api.service": ("nubis-api", ["nubis.conf", "api.conf"]),
    "nubis-conductor.service": ("nubis-conductor", ["nubis.conf", "conductor.conf"]),
    "nubis-conductor@.service": (
        "nubis-conductor",
        ["nubis.conf", "conductor.conf", "conductor-%i.conf"],
    ),
    "nubis-scheduler.service": ("nubis-scheduler", ["nubis.conf", "scheduler.conf"]),
    "nubis-compute.service": ("nubis-compute", ["nubis.conf", "compute.conf"]),
    "nubis-all-in-one.service": ("nubis-all-in-one", ["all-in-one.conf"]),
}

#: The sandbox every unit has (key -> value; a list for a key given more than once).
SANDBOX: dict[str, str | list[str]] = {
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "PrivateMounts": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "ProtectProc": "invisible",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "RemoveIPC": "yes",
    "SystemCallArchitectures": "native",
    "SystemCallFilter": ["@system-service", "~@privileged @resources"],
    "SystemCallErrorNumber": "EPERM",
    "RestrictAddressFamilies": "AF_UNIX AF_NETLINK AF_INET AF_INET6",
    "StateDirectory": "nubis",
}


def parse(path: Path) -> dict[str, dict[str, list[str]]]:
    """``{section: {key: [values in order]}}`` of a unit file (comments dropped)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, equals, value = line.partition("=")
        assert current is not None and equals, f"{path.name}:{number}: not KEY=value: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, f"not a plain time span: {value!r}"
    return int(match[1]) * (60 if match[2] == "min" else 1)


@pytest.fixture(scope="module")
def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        missing("systemd-analyze is not installed (Debian/Ubuntu: apt-get install systemd)")
    return str(found)


@pytest.fixture(scope="module")
def local_units(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Copies of the units whose ExecStart names this virtualenv's binaries, and an
    instance of the conductor template (``nubis-conductor@2.service``)."""
    folder = tmp_path_factory.mktemp("systemd")
    for name in UNITS:
        text = (UNITS_DIR / name).read_text()
        assert INSTALLED_BIN in text, f"{name}: ExecStart is not under {INSTALLED_BIN}"
        (folder / name).write_text(text.replace(INSTALLED_BIN, f"{BIN}/"))
    shutil.copy(folder / "nubis-conductor@.service", folder / "nubis-conductor@2.service")
    yield folder


def test_the_folder_holds_exactly_these_units() -> None:
    assert sorted(p.name for p in UNITS_DIR.iterdir()) == sorted(UNITS)


@pytest.mark.parametrize("name", [*UNITS, "nubis-conductor@2.service"])
def test_systemd_analyze_verify_says_nothing(analyze: str, local_units: Path, name: str) -> None:
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(local_units / name)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    stem = name.removesuffix(".service")
    said = [
        line for line in (result.stdout + result.stderr).splitlines() if stem.split("@")[0] in line
    ]
    assert result.returncode == 0 and said == [], result.stdout + result.stderr


@pytest.mark.parametrize("name", UNITS)
def test_the_exposure_is_ok(analyze: str, local_units: Path, name: str) -> None:
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=20", str(local_units / name)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Overall exposure level for \S+: [01]\.\d OK", result.stdout), result.stdout


@pytest.mark.parametrize("name", UNITS)
def test_the_settings_the_binaries_rely_on(name: str) -> None:
    binary, configs = UNITS[name]
    unit = parse(UNITS_DIR / name)
    service = {key: values[-1] for key, values in unit["Service"].items()}
    expected_args = [f"{INSTALLED_BIN}{binary}"]
    for config in configs:
        expected_args += ["--config-file", f"/etc/nubis/{config}"]
    assert shlex.split(service["ExecStart"]) == expected_args
    assert service["Type"] == "notify"
    assert (service["User"], service["Group"]) == ("nubis", "nubis")
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Restart"] == "on-failure" and _seconds(service["RestartSec"]) > 0
    assert service["KillMode"] == "mixed"
    # The service stops itself within graceful_shutdown_timeout (exits 1 if it had to
    # abandon work); systemd's SIGKILL is only for a process that did not.
    assert _seconds(service["TimeoutStopSec"]) > CONF.graceful_shutdown_timeout
    # Start-up may wait for the message bus and then for a conductor, each up to
    # rpc_response_timeout_startup, and for the database's retries.
    assert _seconds(service["TimeoutStartSec"]) > 2 * CONF.rpc_response_timeout_startup + 40
    assert _seconds(service["WatchdogSec"]) >= 10
    for key, value in SANDBOX.items():
        got = unit["Service"].get(key)
        assert got == (value if isinstance(value, list) else [value]), f"{name}: {key}={got}"
    assert "network-online.target" in unit["Unit"]["Wants"][0].split()
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_compute_host_may_reach_libvirtd_and_share_files_with_qemu() -> None:
    service = parse(UNITS_DIR / "nubis-compute.service")["Service"]
    assert service["SupplementaryGroups"] == ["libvirt"]
    assert "AF_UNIX" in service["RestrictAddressFamilies"][0].split()
    assert service["UMask"] == ["0022"]
    after = parse(UNITS_DIR / "nubis-compute.service")["Unit"]["After"][0].split()
    assert {"libvirtd.service", "nubis-conductor.service"} <= set(after)


def test_the_database_and_bus_services_keep_their_files_private() -> None:
    for name in ("nubis-conductor.service", "nubis-conductor@.service", "nubis-scheduler.service"):
        assert parse(UNITS_DIR / name)["Service"]["UMask"] == ["0077"], name
