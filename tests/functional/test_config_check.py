"""One validator, run by real processes: what ``nubis-manage config check`` refuses, the
service binaries refuse at start with the same line (exit 2), and nothing the operator
can write -- a bad file, URL or path -- ends in a traceback. Secrets never appear, and
the files holding them are private."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
KNOWN = "known: api, compute, conductor, scheduler"


def run(*args: object, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kwargs
    )


def refuses(result: subprocess.CompletedProcess) -> list[str]:
    """The error lines of a process that exited 2 without a traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors, output
    return errors


def config(tmp_path: Path, text: str, name: str = "nubis.conf") -> Path:
    path = tmp_path / name
    path.write_text(
        f"[DEFAULT]\ntransport_url = inproc://\nstate_path = {tmp_path}/state\n"
        f"[api]\nport = 0\n{text}\n"
    )
    return path


@pytest.fixture(scope="module")
def busy_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# Each row: (what, config text, the service, its binary, the expected line's start).
ROW_11 = [
    (
        "port",
        "port = 99999",
        "api",
        "nubis-api",
        "error: [api] port: should be less than or equal to 65535",
    ),
    (
        "threads",
        "threads = 0",
        "api",
        "nubis-api",
        "error: [api] threads: should be greater than or equal to 1",
    ),
    (
        "host",
        "[DEFAULT]\nhost =",
        "conductor",
        "nubis-conductor",
        "error: [DEFAULT] host: is empty",
    ),
    (
        "listen",
        "listen = not-an-ip",
        "api",
        "nubis-api",
        "error: [api] listen: 'not-an-ip' is not an address of this host",
    ),
    (
        "virt_type",
        "[compute]\nvirt_driver = libvirt\n[libvirt]\nvirt_type = xen",
        "compute",
        "nubis-compute",
        "error: [libvirt] virt_type: valid values are [kvm, qemu, test], but found 'xen'",
    ),
    (
        "state_path",
        "[DEFAULT]\nstate_path = {tmp}/a-file/state",
        "conductor",
        "nubis-conductor",
        "error: [DEFAULT] state_path: cannot create {tmp}/a-file/state: {tmp}/a-file is "
        "not a directory",
    ),
    (
        "database",
        "[database]\nconnection = foo://bar",
        "conductor",
        "nubis-conductor",
        "error: [database] connection: 'foo://bar' names database type 'foo'; nubis runs on "
        "sqlite, postgresql, mysql, mariadb",
    ),
    (
        "port in use",
        "listen = 127.0.0.1\nport = {busy_port}",
        "api",
        "nubis-api",
        "error: [api] port: 127.0.0.1:{busy_port} is already in use",
    ),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "what, text, service, binary, expected", ROW_11, ids=[r[0] for r in ROW_11]
)
def test_config_check_refuses_what_the_service_refuses(
    tmp_path, busy_port, what, text, service, binary, expected
):
    (tmp_path / "a-file").write_text("not a directory")
    values = {"tmp": tmp_path, "busy_port": busy_port}
    conf = config(tmp_path, text.format(**values))
    expected = expected.format(**values)

    checked = refuses(run(BIN / "nubis-manage", "--config-file", conf, "config", "check", service))
    started = refuses(run(BIN / binary, "--config-file", conf, timeout=30))
    assert [line for line in checked if line.startswith(expected)], checked
    assert started == checked


@pytest.mark.timeout(120)
def test_several_problems_are_listed_one_line_each(tmp_path):
    conf = config(
        tmp_path,
        "port = 99999\nthreads = 0\n[database]\nconnection = not a url\n"
        "[all_in_one]\nservices = conductor, api",
    )
    checked = refuses(
        run(BIN / "nubis-manage", "--config-file", conf, "config", "check", "conductor", "api")
    )
    assert checked == [
        f"error: [api] port: should be less than or equal to 65535 (in {conf})",
        f"error: [api] threads: should be greater than or equal to 1 (in {conf})",
        "error: [database] connection: 'not a url' is not a database URL; use e.g. "
        "sqlite:////var/lib/nubis/nubis.sqlite or postgresql://nubis:***@db/nubis",
    ]
    assert refuses(run(BIN / "nubis-all-in-one", "--config-file", conf, timeout=30)) == checked


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "[local_auth]\ntoken_expiration = 10",
            "error: [local_auth] token_expiration: should be greater than or equal to 60",
        ),
        (
            "max_request_body_size = 10",
            "error: [api] max_request_body_size: should be greater than or equal to 1024",
        ),
        (None, "error: [oslo_policy] policy_file: {tmp}/policy.yaml is not a valid policy file: "),
    ],
    ids=["token_expiration", "max_request_body_size", "policy_file"],
)
def test_nubis_api_refuses_settings_that_would_fail_every_request(tmp_path, text, expected):
    if text is None:  # a policy file next to the configuration, not even YAML
        (tmp_path / "policy.yaml").write_text(
            '"os_compute_api:servers:index": [unclosed\n  - : :\n'
        )
        text = ""
    conf = config(tmp_path, text)
    expected = expected.format(tmp=tmp_path)
    checked = refuses(run(BIN / "nubis-manage", "--config-file", conf, "config", "check", "api"))
    started = refuses(run(BIN / "nubis-api", "--config-file", conf, timeout=30))
    assert [line for line in checked if line.startswith(expected)], checked
    assert started == checked


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "services, expected",
    [
        (
            "conductor, bogus",
            f"error: [all_in_one] services: unknown service 'bogus'; {KNOWN}",
        ),
        ("", "error: [all_in_one] services: no service to run; name one or more of: api, "),
    ],
    ids=["unknown", "empty"],
)
def test_all_in_one_services_are_checked(tmp_path, services, expected):
    conf = config(tmp_path, f"[all_in_one]\nservices = {services}")
    (line,) = refuses(run(BIN / "nubis-all-in-one", "--config-file", conf, timeout=30))
    assert line.startswith(expected), line


@pytest.mark.timeout(60)
def test_config_check_names_an_unknown_service(tmp_path):
    conf = config(tmp_path, "")
    result = run(BIN / "nubis-manage", "--config-file", conf, "config", "check", "conductr")
    assert refuses(result) == [f"error: unknown service 'conductr'; {KNOWN}"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "where, expected",
    [
        ("{tmp}/a-file/state", "cannot create {tmp}/a-file/state: {tmp}/a-file is not a directory"),
        ("/proc/nubis-state", "cannot create /proc/nubis-state"),
    ],
    ids=["under-a-file", "in-proc"],
)
def test_an_unusable_state_path_is_one_line(tmp_path, where, expected):
    (tmp_path / "a-file").write_text("not a directory")
    conf = config(tmp_path, f"[DEFAULT]\nstate_path = {where.format(tmp=tmp_path)}")
    (line,) = refuses(run(BIN / "nubis-manage", "--config-file", conf, "db", "sync"))
    assert line.startswith(f"error: [database] connection: {expected.format(tmp=tmp_path)}")


@pytest.mark.timeout(60)
def test_a_database_url_that_is_no_url_is_one_line(tmp_path):
    conf = config(tmp_path, "[database]\nconnection = not a url")
    (line,) = refuses(run(BIN / "nubis-manage", "--config-file", conf, "db", "sync"))
    assert line == (
        "error: cannot use the database not a url ([database] connection): Could not parse "
        "SQLAlchemy URL from given URL string"
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda tmp: tmp, "is a directory; name a file, or use --config-dir"),
        (lambda tmp: Path(sys.executable).resolve(), "is not a text file (byte 0x"),
    ],
    ids=["directory", "binary"],
)
def test_a_config_file_that_is_no_config_file_is_one_line(tmp_path, make, expected):
    path = make(tmp_path)
    for binary in ("nubis-manage", "nubis-conductor"):
        args = ["db", "version"] if binary == "nubis-manage" else []
        (line,) = refuses(run(BIN / binary, "--config-file", path, *args))
        assert line.startswith(f"error: --config-file {path}: {expected}"), line


@pytest.mark.timeout(60)
def test_conformance_report_dir_that_is_a_file_is_one_line(tmp_path):
    report_dir = tmp_path / "reports"
    report_dir.write_text("a file")
    result = run(
        BIN / "nubis-conformance", "--namespace", "nubis.virt", "--plugin", "fake",
        "--report-dir", report_dir,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert result.stderr.strip() == (
        f"nubis-conformance: --report-dir: {report_dir} exists and is not a directory"
    )


@pytest.mark.timeout(60)
def test_a_transport_url_password_is_masked(tmp_path):
    conf = config(tmp_path, "[DEFAULT]\ntransport_url = rabbit://user:pass@:notaport/")
    (line,) = refuses(run(BIN / "nubis-conductor", "--config-file", conf))
    assert line.startswith("error: [DEFAULT] transport_url: 'rabbit://user:***@:notaport/' is ")
    assert "pass@" not in line


@pytest.mark.timeout(120)
def test_state_directory_and_database_are_private(tmp_path):
    conf = config(tmp_path, "")
    result = run(BIN / "nubis-manage", "--config-file", conf, "db", "sync", umask=0o022)
    assert result.returncode == 0, result.stderr
    state = tmp_path / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for path in state.iterdir():
        if path.name.startswith("nubis.sqlite"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.timeout(120)
def test_bootstrap_writes_clouds_yaml_privately_past_a_stale_temporary_file(tmp_path):
    conf = config(tmp_path, "")
    assert run(BIN / "nubis-manage", "--config-file", conf, "db", "sync").returncode == 0
    clouds = tmp_path / "out" / "clouds.yaml"
    clouds.parent.mkdir()
    stale = clouds.parent / "clouds.yaml.new"  # left by an earlier, interrupted run
    stale.write_text("stale")
    stale.chmod(0o644)
    result = run(
        BIN / "nubis-manage", "--config-file", conf, "user", "bootstrap",
        "--clouds-yaml", clouds, umask=0o022,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(clouds.stat().st_mode) == 0o600
    assert "nubis-admin" in clouds.read_text()
    assert stale.read_text() == "stale"
    leftovers = {p.name for p in clouds.parent.iterdir()} - {"clouds.yaml", "clouds.yaml.new"}
    assert leftovers == set()
    assert os.stat(clouds).st_uid == os.geteuid()
