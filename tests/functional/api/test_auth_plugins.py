"""The ``noauth`` and ``keystone`` auth plugins, and ``nubis-api`` as a program.

There is no Keystone server on this machine. The ``keystone`` plugin is tested against
the one Keystone-compatible service at hand, nubis's own embedded identity service:
a second ``nubis-api`` process with ``auth_strategy = keystone`` has keystonemiddleware
validate tokens (``GET /v3/auth/tokens`` with its own service token) against the test
cloud's ``/identity``. That checks the wiring (configuration, delayed auth decision,
headers to context, policy); it is not a test against a real Keystone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from nubis.core import exception
from nubis.core.api import auth
from nubis.core.api.app import APIApp
from nubis.core.api.identity import IdentityStore
from nubis.core.conf import CONF
from nubis.plugins.api_auth.noauth import NoAuth
from tests.functional.api.conftest import Cloud, wait_for

NUBIS_API = str(Path(sys.executable).with_name("nubis-api"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class APIProcess:
    """A ``nubis-api`` program with its own configuration file."""

    def __init__(self, tmp: Path, settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = tmp / "nubis-api.conf"
        self.log = tmp / "nubis-api.log"
        self.config.write_text(settings.format(port=self.port, tmp=tmp))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [NUBIS_API, "--config-file", str(self.config), "--log-file", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

        def up() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise AssertionError(f"nubis-api exited {self.process.returncode}: {err}")
            try:
                return requests.get(self.url + "/", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(up, timeout=60, what="nubis-api to answer")

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


KEYSTONE_SETTINGS = """
[DEFAULT]
state_path = {tmp}
transport_url = inproc://
[database]
connection = {connection}
[api]
auth_strategy = keystone
port = {{port}}
[keystone_authtoken]
www_authenticate_uri = {identity}
auth_url = {identity}
auth_type = password
username = nubis-service
password = service-secret
project_name = service
user_domain_name = Default
project_domain_name = Default
"""


@pytest.fixture(scope="module")
def keystone_api(cloud: Cloud, tmp_path_factory: Any) -> Iterator[APIProcess]:
    IdentityStore().create_user(
        "nubis-service", "service-secret", project="service", roles=("service",)
    )
    tmp = tmp_path_factory.mktemp("keystone-api")
    settings = KEYSTONE_SETTINGS.format(
        tmp=tmp, connection=CONF.database.connection, identity=f"{cloud.url}/identity"
    )
    api = APIProcess(tmp, settings)
    api.start()
    yield api
    assert api.stop() == 0
    IdentityStore().delete_user("nubis-service")


def test_keystone_plugin_validates_tokens_through_keystonemiddleware(
    cloud: Cloud, keystone_api: APIProcess
) -> None:
    def get(path: str, persona: str | None = None, token: str | None = None) -> Any:
        headers = {}
        if persona or token:
            headers["X-Auth-Token"] = token or cloud.tokens[str(persona)]
        return requests.get(keystone_api.url + path, headers=headers, timeout=30)

    assert get("/v2.1").status_code == 200  # public, despite the middleware
    anonymous = get("/v2.1/flavors")
    assert anonymous.status_code == 401 and "unauthorized" in anonymous.json()
    assert anonymous.headers["WWW-Authenticate"] == f'Keystone uri="{cloud.url}/identity"'
    assert get("/v2.1/flavors", token="garbage").status_code == 401
    flavors = get("/v2.1/flavors", "alice")
    assert flavors.status_code == 200 and "m1.tiny" in flavors.text
    assert get("/v2.1/os-hypervisors", "alice").status_code == 403
    assert get("/v2.1/os-hypervisors", "admin").status_code == 200
    servers = get("/v2.1/servers", "bob")
    assert servers.status_code == 200


def test_nubis_api_refuses_a_bad_configuration(tmp_path: Path) -> None:
    config = tmp_path / "bad.conf"
    config.write_text("[api]\nauth_strategy = kerberos\n")
    done = subprocess.run(
        [NUBIS_API, "--config-file", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "no plugin 'kerberos' in nubis.api.auth (chosen by [api] auth_strategy)" in done.stderr
    assert "available: keystone, local, noauth" in done.stderr


def test_noauth_refuses_remote_listening_unless_allowed(flags: Any) -> None:
    plugin = NoAuth(CONF)
    plugin.check_listen("127.0.0.1")
    plugin.check_listen("::1")
    with pytest.raises(exception.ConfigurationError, match="noauth_allow_remote"):
        plugin.check_listen("0.0.0.0")
    flags(group="api", noauth_allow_remote=True)
    plugin.check_listen("0.0.0.0")


def test_noauth_identities(cloud: Cloud) -> None:
    app = APIApp(CONF, compute_api=cloud.api.app.deps.compute_api, auth_plugin=NoAuth(CONF))

    def call(token: str | None, path: str) -> int:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "SERVER_NAME": "x",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "wsgi.input": None,
            "HTTP_X_ROLES": "admin",
        }
        if token is not None:
            environ["HTTP_X_AUTH_TOKEN"] = token
        status: list[str] = []
        app(environ, lambda s, h: status.append(s))
        return int(status[0].split()[0])

    assert call(None, "/v2.1/flavors") == 401
    assert call("alice:project-a", "/v2.1/flavors") == 200
    assert call("alice:project-a", "/v2.1/os-hypervisors") == 403  # X-Roles was stripped
    assert call("admin", "/v2.1/os-hypervisors") == 200
    assert call("", "/v2.1/flavors") == 401


def test_identity_headers_are_stripped() -> None:
    environ = {
        "HTTP_X_ROLES": "admin",
        "HTTP_X_IDENTITY_STATUS": "Confirmed",
        "HTTP_X_SERVICE_ROLES": "service",
        "HTTP_X_SERVICE_TOKEN": "t",
        "HTTP_OPENSTACK_SYSTEM_SCOPE": "all",
        "HTTP_ACCEPT": "json",
    }
    auth.strip_identity_headers(environ)
    assert environ == {"HTTP_X_SERVICE_TOKEN": "t", "HTTP_ACCEPT": "json"}


def test_nubis_api_serves_and_stops_on_sigterm(cloud: Cloud, tmp_path: Path) -> None:
    settings = (
        "[DEFAULT]\nstate_path = {tmp}\ntransport_url = inproc://\n"
        f"[database]\nconnection = {CONF.database.connection}\n"
        "[api]\nport = {port}\n"
    )
    api = APIProcess(tmp_path, settings)
    api.start()
    token = requests.post(
        f"{api.url}/identity/v3/auth/tokens",
        timeout=30,
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "alice",
                            "domain": {"name": "Default"},
                            "password": "secret",
                        }
                    },
                },
                "scope": {"project": {"name": "project-a", "domain": {"name": "Default"}}},
            }
        },
    )
    assert token.status_code == 201
    flavors = requests.get(
        f"{api.url}/v2.1/flavors/detail",
        timeout=30,
        headers={"X-Auth-Token": token.headers["X-Subject-Token"]},
    )
    assert flavors.status_code == 200 and "m1.tiny" in flavors.text
    assert (tmp_path / "local-auth-token.key").stat().st_mode & 0o777 == 0o600
    assert api.stop() == 0
    assert "nubis-api serving on" in api.log.read_text()
    os.unlink(tmp_path / "local-auth-token.key")
