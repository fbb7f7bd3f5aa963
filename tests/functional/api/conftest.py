"""A cloud for the API tests, in this process: a conductor, a scheduler and two fake
compute hosts (``cmp1``, ``cmp2``) on inproc:// with SQLite, and nubis-api (waitress, a
free port on 127.0.0.1) with the embedded identity service.

Personas (password ``secret`` for all): ``admin`` (admin on project ``admin``),
``alice`` (member of ``project-a``), ``bob`` (member of ``project-b``). The flavor
``m1.tiny`` (512 MiB, 1 vCPU, 1 GiB) and the image ``tiny`` (a 1 MiB raw file) exist.

The fixture is package-scoped: every module of tests/functional/api shares one cloud, so tests
must leave it usable (delete what they create, or use names of their own).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from nubis.core import objects
from nubis.core.conf import CONF
from nubis.core.context import get_admin_context
from nubis.core.service import Service
from tests.fixtures import inproc_cloud
from tests.fixtures.inproc_cloud import inproc_services

PASSWORD = "secret"
WAIT = 20.0

ACTIVE: Cloud | None = None
"""The package's cloud while it is up (tests/functional/api/deployment checks it is not)."""


def wait_for(predicate: Callable[[], Any], timeout: float = WAIT, what: str = "") -> Any:
    """Poll *predicate* until it returns something true; fail after *timeout* s."""
    return inproc_cloud.wait_for(predicate, timeout, what)


class Client:
    """A tiny JSON client of one nubis-api, acting as one persona (or anonymous)."""

    def __init__(self, base_url: str, token: str | None = None, version: str | None = None):
        self.base_url = base_url
        self.token = token
        self.version = version
        self.session = requests.Session()

    def at(self, version: str) -> Client:
        return Client(self.base_url, self.token, version)

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.token:
            headers["X-Auth-Token"] = self.token
        if self.version:
            headers["OpenStack-API-Version"] = f"compute {self.version}"
        if body is not None:
            kwargs["json"] = body
        return self.session.request(
            method, self.base_url + path, headers=headers, timeout=30, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


def get_token(base_url: str, user: str, project: str, password: str = PASSWORD) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"name": "Default"}, "password": password}
                },
            },
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
        }
    }
    response = requests.post(f"{base_url}/identity/v3/auth/tokens", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return str(response.headers["X-Subject-Token"])


class Cloud:
    """The running cloud: services, the API, personas and helpers."""

    def __init__(self, services: dict[str, Service], api: Any, tmp: Path) -> None:
        self.services = services
        self.api = api
        self.tmp = tmp
        self.url: str = api.url
        self.tokens: dict[str, str] = {}
        self.projects: dict[str, str] = {}
        self.image_id = ""
        self.flavor_id = "m1.tiny"

    def client(self, persona: str | None, version: str | None = None) -> Client:
        token = self.tokens[persona] if persona else None
        return Client(self.url, token, version)

    def driver(self, host: str) -> Any:
        return self.services[host].manager.driver

    def boot(self, persona: str = "alice", name: str | None = None, **server: Any) -> str:
        """Create a server as *persona*, wait until it is ACTIVE, return its id."""
        body = {
            "server": {
                "name": name or f"vm-{uuid.uuid4().hex[:6]}",
                "flavorRef": self.flavor_id,
                "imageRef": self.image_id,
                "networks": "none",
                **server,
            }
        }
        response = self.client(persona, "2.60").post("/v2.1/servers", body)
        assert response.status_code == 202, response.text
        server_id = str(response.json()["server"]["id"])
        self.wait_status(server_id, "ACTIVE")
        return server_id

    def server(self, server_id: str) -> dict[str, Any]:
        response = self.client("admin", "2.60").get(f"/v2.1/servers/{server_id}")
        assert response.status_code == 200, response.text
        return dict(response.json()["server"])

    def wait_status(self, server_id: str, status: str, task: Any = None) -> dict[str, Any]:
        def reached() -> Any:
            server = self.server(server_id)
            if server["status"] == "ERROR" and status != "ERROR":
                raise AssertionError(f"server {server_id} went to ERROR: {server.get('fault')}")
            done = server["status"] == status and server["OS-EXT-STS:task_state"] == task
            return server if done else None

        result: dict[str, Any] = wait_for(reached, what=f"server {server_id} to be {status}")
        return result

    def ended_action(self, server_id: str, action: str | None = None) -> tuple[str, dict[str, str]]:
        """The server's newest action (of that name, if given) and its events (name ->
        result), once every event has its result. A host ends an operation's event after it
        saves the state a test waits for, so the result is waited for too."""
        client = self.client("admin", "2.51")

        def ended() -> tuple[str, dict[str, str]] | None:
            listed = client.get(f"/v2.1/servers/{server_id}/os-instance-actions").json()
            newest = next(a for a in listed["instanceActions"] if action in (None, a["action"]))
            path = f"/v2.1/servers/{server_id}/os-instance-actions/{newest['request_id']}"
            shown = client.get(path).json()["instanceAction"]
            events = {e["event"]: e["result"] for e in shown["events"]}
            return None if not events or None in events.values() else (newest["action"], events)

        result: tuple[str, dict[str, str]] = wait_for(ended, what=f"{server_id}'s action to end")
        return result

    def wait_gone(self, server_id: str) -> None:
        admin = self.client("admin")
        wait_for(
            lambda: admin.get(f"/v2.1/servers/{server_id}").status_code == 404,
            what=f"server {server_id} to be deleted",
        )

    def delete_all_servers(self) -> None:
        admin = self.client("admin")
        ctx = get_admin_context()
        wait_for(
            lambda: all(i.task_state is None for i in objects.InstanceList.get_all(ctx)),
            what="every operation to end",
        )
        for instance in objects.InstanceList.get_all(ctx):
            admin.delete(f"/v2.1/servers/{instance.uuid}")
        wait_for(lambda: not objects.InstanceList.get_all(ctx), what="every server deleted")


@pytest.fixture(scope="package")
def cloud(_migrated_urls: Callable[[str], str], tmp_path_factory: Any) -> Iterator[Cloud]:
    global ACTIVE
    from nubis.core.api import policy
    from nubis.core.api.identity import IdentityStore
    from nubis.core.api.image_registry import ImageAPI
    from nubis.core.api.service import APIService

    tmp = tmp_path_factory.mktemp("api")
    options = {
        ("state_path", None): str(tmp),
        ("rpc_response_timeout", None): 10,
        ("port", "api"): 0,
        ("auth_strategy", "api"): "local",
        ("images_path", "api"): str(tmp / "images"),
    }
    api = None
    with inproc_services(_migrated_urls("sqlite"), tmp, options=options) as (services, override):
        try:
            override("live_migration_seconds", 1.0, group="fake_driver")
            ctx = get_admin_context()
            wait_for(lambda: len(objects.ComputeNodeList.get_all(ctx)) == 2, what="compute nodes")
            scheduler = services["sched"].manager
            scheduler.refresh_host_states()
            wait_for(lambda: len(scheduler.host_states()) == 2, what="the scheduler's view")
            api = APIService(CONF)
            api.start()
            cloud = Cloud(services, api, tmp)
            store = IdentityStore()
            for user, project, role in (
                ("admin", "admin", "admin"),
                ("alice", "project-a", "member"),
                ("bob", "project-b", "member"),
            ):
                store.create_user(user, PASSWORD, project=project, roles=(role,))
                cloud.tokens[user] = get_token(cloud.url, user, project)
                cloud.projects[user] = store.project(project).id
            raw = tmp / "tiny.raw"
            raw.write_bytes(b"\0" * (1 << 20))
            cloud.image_id = ImageAPI(CONF).import_file(get_admin_context(), "tiny", str(raw)).uuid
            response = cloud.client("admin").post(
                "/v2.1/flavors",
                {"flavor": {"name": "m1.tiny", "id": "m1.tiny", "ram": 512, "vcpus": 1, "disk": 1}},
            )
            assert response.status_code == 200, response.text
            ACTIVE = cloud
            yield cloud
        finally:
            ACTIVE = None
            if api is not None:
                api.stop()
            policy.reset()
