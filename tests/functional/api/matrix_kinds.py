"""The authorization matrix's vocabulary: the personas (anonymous, a member of project A
(alice), a member of project B (bob), an administrator), the kinds of route and what
each persona gets from each, and the resources the cases act on.

The kinds of route:

* PUBLIC — everyone gets the answer (version documents, the OpenAPI document);
* ANY — anonymous is 401, every authenticated caller succeeds;
* ADMIN — anonymous 401, members 403, the administrator succeeds;
* OWNER — on a server of project A: anonymous 401, alice succeeds, bob gets 404 (the
  server does not exist for him), the administrator succeeds;
* OWNER_ADMIN — on a server of project A, for administrators only: anonymous 401,
  alice 403, bob 404, the administrator succeeds;
* SELF — on something of alice's named by id in the path or query (her user's key
  pairs, her project's usage and server groups): anonymous 401, alice succeeds, bob 403 (the policy
  compares ids; nothing is hidden), the administrator succeeds.

"Succeeds" means the route's success status.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

from tests.functional.api.conftest import Cloud

PERSONAS = (None, "alice", "bob", "admin")
EXPECTED = {
    "PUBLIC": {None: "ok", "alice": "ok", "bob": "ok", "admin": "ok"},
    "ANY": {None: 401, "alice": "ok", "bob": "ok", "admin": "ok"},
    "ADMIN": {None: 401, "alice": 403, "bob": 403, "admin": "ok"},
    "OWNER": {None: 401, "alice": "ok", "bob": 404, "admin": "ok"},
    "OWNER_ADMIN": {None: 401, "alice": 403, "bob": 404, "admin": "ok"},
    "SELF": {None: 401, "alice": "ok", "bob": 403, "admin": "ok"},
}


@dataclasses.dataclass
class Case:
    """One route: how to call it as a persona and which kind it is.

    ``call(cloud, persona, succeed)`` returns (path, body); *succeed* is True when the
    persona is expected to succeed (the case then prepares a fresh resource if the
    call changes one).
    """

    method: str
    path: str
    kind: str
    call: Callable[[Cloud, str | None, bool], tuple[str, Any]]
    ok: int = 200
    version: str = "2.60"
    action: str | None = None


class Servers:
    """Servers of project A the cases act on, made on demand."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self._shared: str | None = None

    def shared(self) -> str:
        """An ACTIVE server of alice's that no case changes."""
        if self._shared is None:
            self._shared = self.cloud.boot("alice", name="matrix-shared")
        return self._shared

    def fresh(self, status: str = "ACTIVE") -> str:
        server_id = self.cloud.boot("alice", name=f"matrix-{uuid.uuid4().hex[:6]}")
        if status == "SHUTOFF":
            response = self.cloud.client("alice").post(
                f"/v2.1/servers/{server_id}/action", {"os-stop": None}
            )
            assert response.status_code == 202, response.text
            self.cloud.wait_status(server_id, "SHUTOFF")
        return server_id


@dataclasses.dataclass
class Raw:
    """A request body that is not JSON (image data, a JSON patch)."""

    data: bytes
    content_type: str


class MatrixImages:
    """Images of project A the image cases act on (named ``matrix-img-...``)."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def fresh(self, data: bytes | None = None) -> str:
        alice = self.cloud.client("alice")
        body = {"name": f"matrix-img-{uuid.uuid4().hex[:6]}", "disk_format": "raw"}
        response = alice.post("/image/v2/images", {**body, "container_format": "bare"})
        assert response.status_code == 201, response.text
        image_id = str(response.json()["id"])
        if data is not None:
            uploaded = alice.put(
                f"/image/v2/images/{image_id}/file",
                data=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            assert uploaded.status_code == 204, uploaded.text
        return image_id

    def delete_all(self) -> None:
        admin = self.cloud.client("admin")
        for image in admin.get("/image/v2/images?limit=1000").json()["images"]:
            if str(image.get("name") or "").startswith("matrix-img-"):
                admin.delete(f"/image/v2/images/{image['id']}")


def static(path: str, body: Any = None) -> Callable[[Cloud, str | None, bool], tuple[str, Any]]:
    return lambda cloud, persona, succeed: (path, body)
