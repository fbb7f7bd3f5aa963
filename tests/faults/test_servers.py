"""The port plan of the private servers (tests/faults/servers.py): every fixed port
lies where no outgoing connection can take it while its server is stopped."""

from __future__ import annotations

from pathlib import Path

from tests.faults.cloud import API_PORT
from tests.faults.servers import ephemeral_port_clashes, fixed_ports


def _sysctl(tmp_path: Path, port_range: str, reserved: str) -> Path:
    (tmp_path / "ip_local_port_range").write_text(f"{port_range}\n")
    (tmp_path / "ip_local_reserved_ports").write_text(f"{reserved}\n")
    return tmp_path


def test_a_port_inside_the_ephemeral_range_clashes_unless_reserved(tmp_path: Path) -> None:
    sysctl = _sysctl(tmp_path, "32768\t60999", "35672-35673,40000")
    ports = {"old AMQP": 35672, "free": 35674, "reserved": 40000, "below": 31672}
    assert ephemeral_port_clashes(ports, sysctl) == ["free on 35674"]


def test_the_fixed_ports_are_below_linuxs_default_ephemeral_range(tmp_path: Path) -> None:
    sysctl = _sysctl(tmp_path, "32768\t60999", "")
    assert ephemeral_port_clashes({**fixed_ports(), "nubis-api": API_PORT}, sysctl) == []
