"""The ``openstack`` CLI's identity commands against the embedded identity service, one
process per command as a user runs them: domains, projects, users (with the
self-service ``user password set``), roles, role grants and role assignments.

Uses test_clients's clouds.yaml writer and CLI runner, and test_identity_v3's REST helper
for what a test needs before its commands; a test's own user gets an entry of its own in
the clouds.yaml so it can act as itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.api.conftest import PASSWORD, Cloud
from tests.functional.api.test_clients import CLI, write_clouds_yaml
from tests.functional.api.test_identity_v3 import Admin

# One openstack process per command: ~2 s each on an idle machine, several times that on
# a loaded one; a test here runs up to ten of them.
pytestmark = pytest.mark.timeout(600)


def _persona(name: str, project: str, password: str, url: str) -> str:
    return "\n".join(
        [
            f"  {name}:",
            "    auth:",
            f"      auth_url: {url}/identity",
            f"      username: {name}",
            f"      password: {password}",
            f"      project_name: {project}",
            "      user_domain_name: Default",
            "      project_domain_name: Default",
            "    region_name: RegionOne",
            "    identity_api_version: 3",
        ]
    )


class IdentityCLI(CLI):
    """The CLI with the package's personas plus ones a test adds."""

    def __init__(self, path: Path, url: str) -> None:
        super().__init__(path)
        self.path, self.url = path, url

    def add_persona(self, name: str, project: str, password: str) -> None:
        with self.path.open("a") as stream:
            stream.write(_persona(name, project, password, self.url) + "\n")


@pytest.fixture(scope="module")
def cli(cloud: Cloud, tmp_path_factory: Any) -> IdentityCLI:
    path = write_clouds_yaml(tmp_path_factory.mktemp("identity_cli") / "clouds.yaml", cloud.url)
    return IdentityCLI(path, cloud.url)


def test_domain_commands(cli: IdentityCLI) -> None:
    domains = cli.run("admin", "domain", "list")
    assert [(d["ID"], d["Name"], d["Enabled"]) for d in domains] == [("default", "Default", True)]
    assert cli.run("admin", "domain", "show", "default")["name"] == "Default"
    assert cli.run("admin", "domain", "show", "Default")["id"] == "default"  # found by name
    assert "No Domain found for other" in cli.run(
        "admin", "domain", "show", "other", parse=False, expect=1
    )


@pytest.fixture
def admin(cloud: Cloud) -> Iterator[Admin]:
    """test_identity_v3's REST helper, for what a test needs before its commands."""
    helper = Admin(cloud)
    yield helper
    helper.cleanup()


def test_project_commands(cli: IdentityCLI) -> None:
    project = f"cli-p-{uuid.uuid4().hex[:6]}"
    created = cli.run(
        "admin", "project", "create", "--domain", "default", "--description", "cli", project
    )
    assert created["name"] == project and created["domain_id"] == "default"
    assert created["enabled"] is True and created["description"] == "cli"
    assert project in {p["Name"] for p in cli.run("admin", "project", "list")}
    cli.run(
        "admin", "project", "set", "--description", "changed", "--disable", project, parse=False
    )
    shown = cli.run("admin", "project", "show", project)
    assert shown["description"] == "changed" and shown["enabled"] is False
    cli.run("admin", "project", "set", "--enable", project, parse=False)
    assert cli.run("admin", "project", "show", created["id"])["enabled"] is True
    cli.run("alice", "project", "create", f"{project}-denied", parse=False, expect=1)
    cli.run("admin", "project", "delete", project, parse=False)
    assert project not in {p["Name"] for p in cli.run("admin", "project", "list")}


def test_user_commands(cli: IdentityCLI, admin: Admin) -> None:
    project, user = admin.project(), f"cli-u-{uuid.uuid4().hex[:6]}"
    made = cli.run(
        "admin",
        "user",
        "create",
        "--project",
        project["name"],
        "--password",
        PASSWORD,
        "--email",
        "cli@example.org",
        "--description",
        "cli user",
        "--enable",
        user,
    )
    assert made["name"] == user and made["default_project_id"] == project["id"]
    assert made["email"] == "cli@example.org" and made["description"] == "cli user"
    admin.made.insert(0, f"/identity/v3/users/{made['id']}")
    assert user in {u["Name"] for u in cli.run("admin", "user", "list")}
    cli.run(
        "admin",
        "user",
        "set",
        "--email",
        "new@example.org",
        "--description",
        "changed",
        "--password",
        "n3w-secret",
        "--disable",
        user,
        parse=False,
    )
    shown = cli.run("admin", "user", "show", user)
    assert shown["email"] == "new@example.org" and shown["description"] == "changed"
    assert shown["enabled"] is False
    cli.run("admin", "user", "set", "--enable", user, parse=False)
    assert cli.run("admin", "user", "show", made["id"])["enabled"] is True
    cli.run("admin", "user", "delete", user, parse=False)
    assert user not in {u["Name"] for u in cli.run("admin", "user", "list")}


def test_role_commands(cli: IdentityCLI) -> None:
    role = f"clirole{uuid.uuid4().hex[:6]}"
    roles = {r["Name"] for r in cli.run("admin", "role", "list")}
    assert {"admin", "member", "reader"} <= roles
    assert cli.run("admin", "role", "show", "member")["name"] == "member"
    assert cli.run("admin", "role", "create", role)["name"] == role
    assert cli.run("admin", "role", "show", role)["id"] == role
    cli.run("admin", "role", "delete", role, parse=False)
    assert role not in {r["Name"] for r in cli.run("admin", "role", "list")}


def test_role_grant_and_assignment_commands(cli: IdentityCLI, admin: Admin) -> None:
    project, user = admin.project(), admin.user()
    p, u = project["name"], user["name"]
    cli.run("admin", "role", "add", "--user", u, "--project", p, "member", parse=False)
    cli.run("admin", "role", "add", "--user", u, "--project", p, "admin", parse=False)
    assignments = cli.run(
        "admin", "role", "assignment", "list", "--user", u, "--project", p, "--names"
    )
    assert sorted(a["Role"] for a in assignments) == ["admin", "member"]
    assert {a["User"] for a in assignments} == {f"{u}@Default"}
    assert {a["Project"] for a in assignments} == {f"{p}@Default"}
    effective = cli.run("admin", "role", "assignment", "list", "--user", u, "--effective")
    assert sorted(a["Role"] for a in effective) == ["admin", "member", "reader"]
    cli.run("admin", "role", "remove", "--user", u, "--project", p, "admin", parse=False)
    remaining = cli.run("admin", "role", "assignment", "list", "--project", p, "--names")
    assert [(a["Role"], a["User"]) for a in remaining] == [("member", f"{u}@Default")]


def test_self_service_commands(cli: IdentityCLI, admin: Admin) -> None:
    project, user = admin.project(), admin.user()
    admin.grant(project, user)
    name, uid = user["name"], user["id"]
    cli.add_persona(name, project["name"], PASSWORD)
    # a user reads itself by id (finding a user by name lists users: the admin's)
    assert cli.run(name, "user", "show", uid)["name"] == name
    assert [p["Name"] for p in cli.run(name, "project", "list", "--my-projects")] == [
        project["name"]
    ]
    own = cli.run(name, "role", "assignment", "list", "--user", uid, "--names")
    assert [a["Role"] for a in own] == ["member"]
    cli.run(name, "user", "list", parse=False, expect=1)  # admin only
    cli.run(
        name,
        "user",
        "password",
        "set",
        "--password",
        "n3w-secret",
        "--original-password",
        PASSWORD,
        parse=False,
    )
    cli.run(name, "user", "show", uid, parse=False, expect=1)  # the old password is gone
    admin.login(user, project, "n3w-secret")
