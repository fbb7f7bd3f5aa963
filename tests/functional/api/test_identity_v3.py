"""Identity v3 management on the embedded identity service (``/identity/v3``): domains,
projects, users, roles, role assignments, the self-service password change, with
Keystone's bodies, policy and error format, over HTTP against the package's cloud.

Every test makes its own projects and users (names ``v3-...``) and deletes them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.functional.api.conftest import PASSWORD, Client, Cloud, get_token

V3 = "/identity/v3"


def unique(prefix: str) -> str:
    return f"v3-{prefix}-{uuid.uuid4().hex[:6]}"


def keystone_error(response: requests.Response, status: int) -> str:
    """Assert *response* is Keystone's error *status*; return its message."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status and error["title"] and error["message"]
    return str(error["message"])


class Admin:
    """The admin's v3 calls, deleting at the end what the test made."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.http = cloud.client("admin")
        self.made: list[str] = []

    def project(self, **extra: Any) -> dict[str, Any]:
        body = {"project": {"name": unique("p"), **extra}}
        response = self.http.post(f"{V3}/projects", body)
        assert response.status_code == 201, response.text
        project: dict[str, Any] = response.json()["project"]
        self.made.append(f"{V3}/projects/{project['id']}")
        return project

    def user(self, **extra: Any) -> dict[str, Any]:
        body = {"user": {"name": unique("u"), "password": PASSWORD, **extra}}
        response = self.http.post(f"{V3}/users", body)
        assert response.status_code == 201, response.text
        user: dict[str, Any] = response.json()["user"]
        self.made.insert(0, f"{V3}/users/{user['id']}")
        return user

    def grant(self, project: dict[str, Any], user: dict[str, Any], role: str = "member") -> None:
        path = f"{V3}/projects/{project['id']}/users/{user['id']}/roles/{role}"
        response = self.http.put(path)
        assert response.status_code == 204, response.text

    def login(
        self, user: dict[str, Any], project: dict[str, Any], password: str = PASSWORD
    ) -> Client:
        return Client(
            self.cloud.url, get_token(self.cloud.url, user["name"], project["name"], password)
        )

    def cleanup(self) -> None:
        for path in self.made:
            response = self.http.delete(path)
            assert response.status_code in (204, 404), response.text


@pytest.fixture
def admin(cloud: Cloud) -> Iterator[Admin]:
    helper = Admin(cloud)
    yield helper
    helper.cleanup()


def token_works(cloud: Cloud, client: Client) -> bool:
    response = requests.get(
        f"{cloud.url}{V3}/auth/tokens",
        headers={"X-Auth-Token": client.token or "", "X-Subject-Token": client.token or ""},
        timeout=30,
    )
    return response.status_code == 200


# --- domains ---------------------------------------------------------------------------


def test_only_the_default_domain_exists(cloud: Cloud) -> None:
    admin, alice = cloud.client("admin"), cloud.client("alice")
    domains = admin.get(f"{V3}/domains").json()["domains"]
    assert [(d["id"], d["name"], d["enabled"]) for d in domains] == [("default", "Default", True)]
    assert admin.get(f"{V3}/domains?name=Default").json()["domains"][0]["id"] == "default"
    assert admin.get(f"{V3}/domains?name=Other").json()["domains"] == []
    assert alice.get(f"{V3}/domains/default").json()["domain"]["name"] == "Default"
    assert "Could not find domain: other" in keystone_error(admin.get(f"{V3}/domains/other"), 404)
    assert "identity:list_domains" in keystone_error(alice.get(f"{V3}/domains"), 403)
    keystone_error(cloud.client(None).get(f"{V3}/domains"), 401)


# --- projects --------------------------------------------------------------------------


def test_project_lifecycle(cloud: Cloud, admin: Admin) -> None:
    http = admin.http
    project = admin.project(description="for tests", tags=["a", "b"], color="blue")
    assert project["domain_id"] == project["parent_id"] == "default"
    assert project["enabled"] is True and project["is_domain"] is False
    assert project["description"] == "for tests" and project["tags"] == ["a", "b"]
    assert project["color"] == "blue" and project["links"]["self"].endswith(project["id"])
    pid = project["id"]

    duplicate = http.post(f"{V3}/projects", {"project": {"name": project["name"]}})
    assert f"name {project['name']} at domain ID default" in keystone_error(duplicate, 409)
    listed = http.get(f"{V3}/projects", params={"name": project["name"]}).json()["projects"]
    assert [p["id"] for p in listed] == [pid]
    everything = {p["name"] for p in http.get(f"{V3}/projects").json()["projects"]}
    assert {"admin", "project-a", "project-b", project["name"]} <= everything

    renamed = unique("renamed")
    response = http.request(
        "PATCH", f"{V3}/projects/{pid}", {"project": {"name": renamed, "enabled": False}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["project"]["name"] == renamed
    shown = http.get(f"{V3}/projects/{pid}").json()["project"]
    assert shown["enabled"] is False and shown["description"] == "for tests"
    disabled = http.get(f"{V3}/projects?enabled=false").json()["projects"]
    assert pid in {p["id"] for p in disabled}
    assert pid not in {p["id"] for p in http.get(f"{V3}/projects?enabled=true").json()["projects"]}
    taken = http.request("PATCH", f"{V3}/projects/{pid}", {"project": {"name": "project-a"}})
    keystone_error(taken, 409)

    assert http.delete(f"{V3}/projects/{pid}").status_code == 204
    assert f"Could not find project: {pid}" in keystone_error(http.get(f"{V3}/projects/{pid}"), 404)
    keystone_error(http.delete(f"{V3}/projects/{pid}"), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "project"),
        ({"project": {}}, "project"),
        ({"project": {"name": 5}}, "project.name"),
        ({"project": {"name": ""}}, "project.name"),
        ({"project": {"name": "x", "enabled": "yes"}}, "project.enabled"),
        ({"project": {"name": "x", "domain_id": "other"}}, "project.domain_id"),
        ({"project": {"name": "x", "is_domain": True}}, "project.is_domain"),
        ({"project": {"name": "x", "id": "mine"}}, "project.id"),
        ({"project": {"name": "x", "tags": ["a/b"]}}, "project.tags[0]"),
        ({"project": {"name": "x", "options": {"immutable": True}}}, "project.options"),
        ({"project": {"name": "a/b"}}, "project name"),
    ],
)
def test_bad_project_bodies_name_the_field(cloud: Cloud, body: Any, field: str) -> None:
    message = keystone_error(cloud.client("admin").post(f"{V3}/projects", body), 400)
    assert field in message


def test_members_cannot_manage_projects_but_read_their_own(cloud: Cloud, admin: Admin) -> None:
    alice = cloud.client("alice")
    response = alice.post(f"{V3}/projects", {"project": {"name": unique("p")}})
    assert "identity:create_project" in keystone_error(response, 403)
    keystone_error(alice.get(f"{V3}/projects"), 403)
    own = alice.get(f"{V3}/projects/{cloud.projects['alice']}")
    assert own.status_code == 200 and own.json()["project"]["name"] == "project-a"
    keystone_error(alice.get(f"{V3}/projects/{cloud.projects['bob']}"), 403)
    keystone_error(alice.delete(f"{V3}/projects/{cloud.projects['alice']}"), 403)


def test_a_project_with_servers_is_not_deleted(cloud: Cloud, admin: Admin) -> None:
    project, user = admin.project(), admin.user()
    admin.grant(project, user)
    client = admin.login(user, project).at("2.60")
    body = {
        "server": {
            "name": "v3-vm",
            "flavorRef": cloud.flavor_id,
            "imageRef": cloud.image_id,
            "networks": "none",
        }
    }
    response = client.post("/v2.1/servers", body)
    assert response.status_code == 202, response.text
    server_id = response.json()["server"]["id"]
    cloud.wait_status(server_id, "ACTIVE")
    refused = admin.http.delete(f"{V3}/projects/{project['id']}")
    assert "still has servers" in keystone_error(refused, 409)
    assert client.delete(f"/v2.1/servers/{server_id}").status_code == 204
    cloud.wait_gone(server_id)
    assert admin.http.delete(f"{V3}/projects/{project['id']}").status_code == 204
    assert not token_works(cloud, client)  # its project is gone


def test_disabling_a_project_ends_its_tokens(cloud: Cloud, admin: Admin) -> None:
    project, user = admin.project(), admin.user()
    admin.grant(project, user)
    client = admin.login(user, project)
    assert token_works(cloud, client)
    patch = {"project": {"enabled": False}}
    assert admin.http.request("PATCH", f"{V3}/projects/{project['id']}", patch).status_code == 200
    assert not token_works(cloud, client)
    keystone_error(
        requests.post(
            f"{cloud.url}{V3}/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {"user": {"id": user["id"], "password": PASSWORD}},
                    },
                    "scope": {"project": {"id": project["id"]}},
                }
            },
            timeout=30,
        ),
        401,
    )


# --- users -----------------------------------------------------------------------------


def test_user_lifecycle(cloud: Cloud, admin: Admin) -> None:
    http = admin.http
    project = admin.project()
    user = admin.user(
        email="u@example.org",
        description="a tester",
        default_project_id=project["id"],
        team="blue",
    )
    uid = user["id"]
    assert user["domain_id"] == "default" and user["enabled"] is True
    assert user["email"] == "u@example.org" and user["description"] == "a tester"
    assert user["default_project_id"] == project["id"] and user["team"] == "blue"
    assert "password" not in user and user["password_expires_at"] is None

    duplicate = http.post(f"{V3}/users", {"user": {"name": user["name"], "password": "x"}})
    assert "Duplicate entry" in keystone_error(duplicate, 409)
    listed = http.get(f"{V3}/users", params={"name": user["name"]}).json()["users"]
    assert [u["id"] for u in listed] == [uid]
    assert http.get(f"{V3}/users/{uid}").json()["user"]["email"] == "u@example.org"

    admin.grant(project, user)
    client = admin.login(user, project)
    changes = {"user": {"email": "new@example.org", "description": None, "name": unique("n")}}
    updated = http.request("PATCH", f"{V3}/users/{uid}", changes).json()["user"]
    assert updated["email"] == "new@example.org" and "description" not in updated
    assert updated["name"] == changes["user"]["name"]
    user["name"] = updated["name"]
    assert token_works(cloud, client)  # a rename revokes nothing

    password = http.request("PATCH", f"{V3}/users/{uid}", {"user": {"password": "n3w"}})
    assert password.status_code == 200
    assert not token_works(cloud, client)  # a new password revokes earlier tokens
    client = admin.login(user, project, "n3w")
    disable = http.request("PATCH", f"{V3}/users/{uid}", {"user": {"enabled": False}})
    assert disable.json()["user"]["enabled"] is False
    assert not token_works(cloud, client)
    assert uid in {u["id"] for u in http.get(f"{V3}/users?enabled=false").json()["users"]}
    http.request("PATCH", f"{V3}/users/{uid}", {"user": {"enabled": True}})
    client = admin.login(user, project, "n3w")

    assert http.delete(f"{V3}/users/{uid}").status_code == 204
    assert not token_works(cloud, client)
    assert f"Could not find user: {uid}" in keystone_error(http.get(f"{V3}/users/{uid}"), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": {}}, "user"),
        ({"user": {"name": ["x"]}}, "user.name"),
        ({"user": {"name": "x", "password": 5}}, "user.password"),
        ({"user": {"name": "x", "enabled": 1}}, "user.enabled"),
        ({"user": {"name": "x", "domain_id": "nope"}}, "user.domain_id"),
        ({"user": {"name": "x", "default_project_id": "nope"}}, "default_project_id"),
        ({"user": {"name": "x", "email": 3}}, "user.email"),
        ({"user": {"name": "x", "links": {}}}, "user.links"),
    ],
)
def test_bad_user_bodies_name_the_field(cloud: Cloud, body: Any, field: str) -> None:
    message = keystone_error(cloud.client("admin").post(f"{V3}/users", body), 400)
    assert field in message


def test_a_user_without_a_password_cannot_authenticate(cloud: Cloud, admin: Admin) -> None:
    project = admin.project()
    response = admin.http.post(f"{V3}/users", {"user": {"name": unique("nopw")}})
    assert response.status_code == 201, response.text
    user = response.json()["user"]
    admin.made.insert(0, f"{V3}/users/{user['id']}")
    admin.grant(project, user)
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": user["id"], "password": ""}},
            },
            "scope": {"project": {"id": project["id"]}},
        }
    }
    keystone_error(requests.post(f"{cloud.url}{V3}/auth/tokens", json=body, timeout=30), 401)


def test_a_user_reads_itself_and_changes_its_password(cloud: Cloud, admin: Admin) -> None:
    project, user, other = admin.project(), admin.user(), admin.user()
    admin.grant(project, user)
    client = admin.login(user, project)
    uid = user["id"]
    assert client.get(f"{V3}/users/{uid}").json()["user"]["name"] == user["name"]
    assert "identity:get_user" in keystone_error(client.get(f"{V3}/users/{other['id']}"), 403)
    keystone_error(client.get(f"{V3}/users"), 403)
    keystone_error(client.request("PATCH", f"{V3}/users/{uid}", {"user": {"enabled": True}}), 403)
    mine = client.get(f"{V3}/users/{uid}/projects").json()["projects"]
    assert [p["id"] for p in mine] == [project["id"]]
    assert [p["id"] for p in client.get(f"{V3}/auth/projects").json()["projects"]] == [
        project["id"]
    ]
    keystone_error(client.get(f"{V3}/users/{other['id']}/projects"), 403)

    wrong = {"user": {"password": "next", "original_password": "not it"}}
    keystone_error(client.post(f"{V3}/users/{uid}/password", wrong), 401)
    missing = client.post(f"{V3}/users/{uid}/password", {"user": {"password": "next"}})
    assert "user.original_password" in keystone_error(missing, 400)
    right = {"user": {"password": "next", "original_password": PASSWORD}}
    assert client.post(f"{V3}/users/{uid}/password", right).status_code == 204
    assert not token_works(cloud, client)
    client = admin.login(user, project, "next")
    anonymous = Client(cloud.url)  # Keystone's password change needs no token
    back = {"user": {"password": PASSWORD, "original_password": "next"}}
    assert anonymous.post(f"{V3}/users/{uid}/password", back).status_code == 204
    admin.login(user, project)


# --- roles and assignments ---------------------------------------------------------------


def test_roles(cloud: Cloud, admin: Admin) -> None:
    http = admin.http
    names = {r["name"] for r in http.get(f"{V3}/roles").json()["roles"]}
    assert {"admin", "member", "reader"} <= names
    member = http.get(f"{V3}/roles?name=member").json()["roles"]
    assert [(r["id"], r["name"]) for r in member] == [("member", "member")]
    assert http.get(f"{V3}/roles/reader").json()["role"]["id"] == "reader"
    assert "Could not find role: nope" in keystone_error(http.get(f"{V3}/roles/nope"), 404)
    keystone_error(cloud.client("alice").get(f"{V3}/roles"), 403)

    name = f"v3role{uuid.uuid4().hex[:6]}"
    created = http.post(f"{V3}/roles", {"role": {"name": name, "description": "d"}})
    assert created.status_code == 201 and created.json()["role"]["id"] == name
    keystone_error(http.post(f"{V3}/roles", {"role": {"name": name}}), 409)
    keystone_error(http.post(f"{V3}/roles", {"role": {"name": "member"}}), 409)
    assert "role.name" in keystone_error(http.post(f"{V3}/roles", {"role": {}}), 400)
    assert "role 'Bad Name'" in keystone_error(
        http.post(f"{V3}/roles", {"role": {"name": "Bad Name"}}), 400
    )
    project, user = admin.project(), admin.user()
    admin.grant(project, user, name)
    assert http.delete(f"{V3}/roles/{name}").status_code == 204
    keystone_error(http.get(f"{V3}/roles/{name}"), 404)
    assignments = http.get(f"{V3}/role_assignments?user.id={user['id']}").json()
    assert assignments["role_assignments"] == []  # deleting a role deletes its assignments
    assert "default role" in keystone_error(http.delete(f"{V3}/roles/member"), 400)


def test_grants_and_role_assignments(cloud: Cloud, admin: Admin) -> None:
    http = admin.http
    project, user = admin.project(), admin.user()
    grant = f"{V3}/projects/{project['id']}/users/{user['id']}/roles"
    assert http.request("HEAD", f"{grant}/member").status_code == 404
    keystone_error(http.get(f"{grant}/member"), 404)
    admin.grant(project, user, "member")
    admin.grant(project, user, "member")  # idempotent, as Keystone's
    assert http.request("HEAD", f"{grant}/member").status_code == 204
    assert http.get(f"{grant}/member").status_code == 204
    assert [r["id"] for r in http.get(grant).json()["roles"]] == ["member"]
    keystone_error(http.put(f"{grant}/nope"), 404)
    keystone_error(http.put(f"{V3}/projects/nope/users/{user['id']}/roles/member"), 404)

    listed = http.get(f"{V3}/role_assignments", params={"user.id": user["id"]}).json()
    assert listed["role_assignments"] == [
        {
            "role": {"id": "member"},
            "user": {"id": user["id"]},
            "scope": {"project": {"id": project["id"]}},
            "links": {"assignment": f"{cloud.url}{grant}/member"},
        }
    ]
    effective = http.get(
        f"{V3}/role_assignments",
        params={"user.id": user["id"], "effective": "", "include_names": "True"},
    ).json()["role_assignments"]
    assert sorted(a["role"]["name"] for a in effective) == ["member", "reader"]
    reader = next(a for a in effective if a["role"]["id"] == "reader")
    assert reader["links"]["prior_role"].endswith("/roles/member")
    assert reader["user"]["name"] == user["name"]
    assert reader["scope"]["project"]["name"] == project["name"]
    assert reader["scope"]["project"]["domain"] == {"id": "default", "name": "Default"}
    by_role = http.get(
        f"{V3}/role_assignments",
        params={"scope.project.id": project["id"], "role.id": "reader", "effective": "1"},
    ).json()["role_assignments"]
    assert [a["user"]["id"] for a in by_role] == [user["id"]]
    no_groups = http.get(f"{V3}/role_assignments", params={"group.id": "g"}).json()
    assert no_groups["role_assignments"] == []

    client = admin.login(user, project)
    own = client.get(f"{V3}/role_assignments", params={"user.id": user["id"]})
    assert own.status_code == 200 and len(own.json()["role_assignments"]) == 1
    keystone_error(client.get(f"{V3}/role_assignments"), 403)
    keystone_error(client.put(f"{grant}/admin"), 403)

    assert http.delete(f"{grant}/member").status_code == 204
    assert not token_works(cloud, client)  # no role left there
    keystone_error(http.delete(f"{grant}/member"), 404)


def test_unknown_paths_and_methods(cloud: Cloud) -> None:
    http = cloud.client("admin")
    assert "not served" in keystone_error(http.get(f"{V3}/groups"), 404)
    assert "allowed: GET, HEAD" in keystone_error(http.put(f"{V3}/role_assignments"), 405)
    bad = http.request(
        "POST", f"{V3}/projects", headers={"Content-Type": "application/json"}, data=b"{"
    )
    keystone_error(bad, 400)
    keystone_error(http.get(f"{V3}/users?enabled=maybe"), 400)


def test_texts_beyond_a_text_column_are_refused(cloud: Cloud) -> None:
    http = cloud.client("admin")
    headers = {"Content-Type": "application/json"}
    body = {"project": {"name": unique("big"), "description": "€" * 22000}}  # 66,000 bytes
    data = json.dumps(body, ensure_ascii=False).encode()
    response = http.request("POST", f"{V3}/projects", headers=headers, data=data)
    assert "'description': at most 65535 bytes" in keystone_error(response, 400)
    big_user = {"user": {"name": unique("big"), "biography": "x" * 70000}}
    message = keystone_error(http.post(f"{V3}/users", big_user), 400)
    assert "extra attributes (biography)" in message
    assert not http.get(f"{V3}/users?name={big_user['user']['name']}").json()["users"]
