"""The nubis deployment a Tempest run measures: a private ``nubis-all-in-one`` started
here, or one already running; and what Tempest needs in it.

:func:`start_all_in_one` writes a config of its own under the work directory (its own
state directory and SQLite database, the API on a free loopback port, local
authentication, two compute hosts on the fake driver, everything on ``inproc://``)
and starts the process. :func:`provision` then makes the accounts Tempest uses
(``nubis-manage user create``), imports two small images (``nubis-manage image
import``) and creates two flavors through the API; each step reuses what a previous
run left, so a deployment can be measured again and again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

# Tempest's pre-provisioned credentials. Each project has a member (primary and alt
# come from these), a manager and a reader (project_manager / project_reader must be
# in the primary's project); five projects leave the two workers' primaries and alts
# room to spare. Admins have projects of their own, and every admin also has the
# service role (os-server-external-events asks for an admin with it): Tempest picks an
# admin at random, so a separate service account could be taken as a plain admin by the
# other worker; four admins cover two workers' admin and service users.
PROJECTS = 5
ADMINS = 4
ADMIN_ROLES = ("admin", "service")
PREFIX = "tempest"

FLAVORS = (
    {"id": "tempest-1", "name": "tempest.tiny", "ram": 64, "vcpus": 1, "disk": 1},
    {"id": "tempest-2", "name": "tempest.tiny.alt", "ram": 128, "vcpus": 1, "disk": 1},
)
IMAGES = ("tempest-image", "tempest-image-alt")
IMAGE_BYTES = 1024 * 1024  # a raw image of one MiB: the fake driver never reads it

AIO_CONF = """\
# Written by tests/tempest/run_tempest.py: a private all-in-one for Tempest.
[DEFAULT]
host = tempest-aio
state_path = {state}
transport_url = inproc://
report_interval = 10
periodic_fuzzy_delay = 5

[database]
connection = sqlite:///{state}/nubis.sqlite

[indirection]
api = local

[servicegroup]
driver = db

[all_in_one]
services = conductor, scheduler, compute, api
compute_hosts = tempest-compute-1, tempest-compute-2

[compute]
virt_driver = fake

[fake_driver]
# Room for the servers two Tempest workers keep alive at once.
vcpus = 64
memory_mb = 65536
local_gb = 2048

[api]
listen = 127.0.0.1
port = {port}
auth_strategy = local
"""


@dataclasses.dataclass
class Account:
    """One entry of Tempest's accounts.yaml: *roles* is the persona Tempest matches on
    (member, manager, reader, admin); *grants* are the roles nubis gives the user."""

    username: str
    password: str
    project_name: str
    roles: tuple[str, ...]
    grants: tuple[str, ...]


@dataclasses.dataclass
class Provisioned:
    """What :func:`provision` made: the accounts, image ids and flavor ids."""

    accounts: list[Account]
    images: list[str]
    flavors: list[str]
    min_microversion: str
    max_microversion: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AllInOne:
    """A ``nubis-all-in-one`` process this runner started; :meth:`stop` ends it."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, config: Path, log: Path):
        self.process, self.url, self.config, self.log = process, url, config, log

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_all_in_one(bin_dir: Path, workdir: Path, timeout: float = 90) -> AllInOne:
    """Start a private all-in-one with its state in *workdir*/nubis (kept between runs)."""
    state = workdir / "nubis"
    state.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = workdir / "nubis-all-in-one.conf"
    config.write_text(AIO_CONF.format(state=state, port=port))
    log = workdir / "nubis-all-in-one.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(bin_dir / "nubis-all-in-one"), "--config-file", str(config)],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    aio = AllInOne(process, f"http://127.0.0.1:{port}", config, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"nubis-all-in-one exited {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(aio.url + "/v2.1", timeout=2):
                return aio
        except OSError:
            if time.monotonic() > deadline:
                aio.stop()
                raise SystemExit(
                    f"nubis-all-in-one did not answer on {aio.url} in {timeout} s"
                ) from None
            time.sleep(0.5)


def _manage(bin_dir: Path, config: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(bin_dir / "nubis-manage"), "--config-file", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"nubis-manage {' '.join(args)} failed ({done.returncode}): "
            f"{(done.stderr or done.stdout).strip()}"
        )
    return done.stdout


def _first_column(listing: str) -> set[str]:
    return {line.split()[0] for line in listing.splitlines()[1:] if line.strip()}


def _grants(listing: str) -> dict[str, set[str]]:
    """``{user: {"role@project", ...}}`` from ``nubis-manage user list``."""
    grants = {}
    for line in listing.splitlines()[1:]:
        fields = line.split(None, 3)
        if len(fields) == 4:
            grants[fields[0]] = {g.strip() for g in fields[3].split(",")}
    return grants


def _accounts() -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    """(user, project, persona, grants) of every account, members first."""
    wanted: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = []
    for persona, grants in (
        ("member", ("member",)),
        ("manager", ("manager", "member")),
        ("reader", ("reader",)),
    ):
        wanted += [
            (f"{PREFIX}-{persona}-{i}", f"{PREFIX}-project-{i}", (persona,), grants)
            for i in range(1, PROJECTS + 1)
        ]
    wanted += [
        (f"{PREFIX}-admin-{i}", f"{PREFIX}-admin-project-{i}", ADMIN_ROLES, ADMIN_ROLES)
        for i in range(1, ADMINS + 1)
    ]
    return wanted


def _provision_accounts(
    bin_dir: Path, config: Path, url: str, known: dict[str, str]
) -> list[Account]:
    """Create the accounts. One that exists already is reused when its *known* password
    (from the previous run's accounts.yaml) still authenticates and it has its roles;
    otherwise it gets a fresh password and its roles (each nubis-manage call costs a
    process start, so a rerun makes none)."""
    listing = _manage(bin_dir, config, "user", "list")
    existing, granted = _first_column(listing), _grants(listing)
    accounts = []
    for name, project, persona, grants in _accounts():
        account = Account(name, known.get(name, ""), project, persona, grants)
        if name in existing:
            if (
                account.password
                and {f"{role}@{project}" for role in grants} <= granted.get(name, set())
                and _authenticate(url, account) is not None
            ):
                accounts.append(account)
                continue
            account.password = secrets.token_urlsafe(18)
            _manage(
                bin_dir,
                config,
                "user",
                "password",
                name,
                "--password",
                "-",
                stdin=account.password,
            )
            for role in grants:
                _manage(
                    bin_dir, config, "user", "role-add", name, "--project", project, "--role", role
                )
        else:
            account.password = secrets.token_urlsafe(18)
            role_args = [arg for role in grants for arg in ("--role", role)]
            _manage(
                bin_dir,
                config,
                "user",
                "create",
                name,
                "--password",
                "-",
                "--project",
                project,
                *role_args,
                stdin=account.password,
            )
        accounts.append(account)
    return accounts


def _provision_images(bin_dir: Path, config: Path, workdir: Path) -> list[str]:
    listing = _manage(bin_dir, config, "image", "list")
    by_name = {
        line.split()[1]: line.split()[0] for line in listing.splitlines()[1:] if line.strip()
    }
    raw = workdir / "tempest-image.raw"
    if not raw.exists():
        raw.write_bytes(b"\0" * IMAGE_BYTES)
    ids = []
    for name in IMAGES:
        if name not in by_name:
            out = _manage(bin_dir, config, "image", "import", name, str(raw))
            # "imported image NAME (UUID): ..."
            by_name[name] = out.split("(", 1)[1].split(")", 1)[0]
        ids.append(by_name[name])
    return ids


def _request(
    url: str, method: str = "GET", token: str | None = None, body: Any = None
) -> tuple[int, Any, Any]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None, response.headers
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text), error.headers
        except ValueError:
            return error.code, text.decode(errors="replace"), error.headers


def token_for(url: str, account: Account) -> str:
    """A project-scoped token of *account* from the deployment's identity service."""
    token = _authenticate(url, account)
    if token is None:
        raise SystemExit(f"authenticating {account.username} failed")
    return token


def _authenticate(url: str, account: Account) -> str | None:
    status, body, headers = _request(
        f"{url}/identity/v3/auth/tokens",
        "POST",
        body={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": account.username,
                            "domain": {"id": "default"},
                            "password": account.password,
                        }
                    },
                },
                "scope": {"project": {"name": account.project_name, "domain": {"id": "default"}}},
            }
        },
    )
    return str(headers["X-Subject-Token"]) if status == 201 else None


def _provision_flavors(url: str, admin: Account) -> list[str]:
    token = token_for(url, admin)
    for flavor in FLAVORS:
        status, body, _ = _request(f"{url}/v2.1/flavors/{flavor['id']}", token=token)
        if status == 404:
            status, body, _ = _request(
                f"{url}/v2.1/flavors", "POST", token=token, body={"flavor": flavor}
            )
        if status not in (200, 201):
            raise SystemExit(f"flavor {flavor['id']}: {status} {body}")
    return [str(f["id"]) for f in FLAVORS]


def microversions(url: str) -> tuple[str, str]:
    """The (min, max) compute microversions of the deployment's version document."""
    status, body, _ = _request(f"{url}/v2.1")
    if status != 200:
        raise SystemExit(f"GET {url}/v2.1 answered {status}: {body}")
    return str(body["version"]["min_version"]), str(body["version"]["version"])


def provision(
    bin_dir: Path, config: Path, url: str, workdir: Path, known: dict[str, str]
) -> Provisioned:
    """Make (or refresh) everything the Tempest run needs in the deployment; *known*
    are the passwords of the accounts a previous run made."""
    os.makedirs(workdir, exist_ok=True)
    accounts = _provision_accounts(bin_dir, config, url, known)
    images = _provision_images(bin_dir, config, workdir)
    admin = next(a for a in accounts if "admin" in a.roles)
    flavors = _provision_flavors(url, admin)
    low, high = microversions(url)
    return Provisioned(accounts, images, flavors, low, high)
