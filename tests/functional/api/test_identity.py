"""The embedded identity service (auth_strategy local): discovery, password and token
authentication, validation, the catalog, expiry, and users whose access ends."""

from __future__ import annotations

import time
from typing import Any

import jwt
import requests

from nubis.core.api.identity import IdentityStore, effective_roles, hash_password, verify_password
from tests.functional.api.conftest import PASSWORD, Cloud, get_token, wait_for


def _auth(user: str, password: str, project: str | None = "project-a", **extra: Any) -> Any:
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"id": "default"}, "password": password}
                },
            },
            **extra,
        }
    }
    if project:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
    return body


def test_discovery_documents(cloud: Cloud) -> None:
    versions = requests.get(f"{cloud.url}/identity", timeout=10).json()
    assert versions["versions"]["values"][0]["id"] == "v3.14"
    v3 = requests.get(f"{cloud.url}/identity/v3/", timeout=10).json()["version"]
    assert v3["links"][0]["href"] == f"{cloud.url}/identity/v3/"


def test_password_token_has_roles_and_a_catalog(cloud: Cloud) -> None:
    response = requests.post(
        f"{cloud.url}/identity/v3/auth/tokens", json=_auth("alice", PASSWORD), timeout=10
    )
    assert response.status_code == 201
    token = response.json()["token"]
    assert token["user"]["name"] == "alice" and token["project"]["name"] == "project-a"
    assert {r["name"] for r in token["roles"]} == {"member", "reader"}
    catalog = {entry["type"]: entry["endpoints"] for entry in token["catalog"]}
    assert {e["interface"] for e in catalog["compute"]} == {"public", "internal", "admin"}
    assert catalog["compute"][0]["url"] == f"{cloud.url}/v2.1"
    assert catalog["image"][0]["url"] == f"{cloud.url}/image"
    assert token["expires_at"].endswith("Z")


def test_refusals_do_not_tell_which_part_was_wrong(cloud: Cloud) -> None:
    url = f"{cloud.url}/identity/v3/auth/tokens"
    wrong_password = requests.post(url, json=_auth("alice", "nope"), timeout=10)
    unknown_user = requests.post(url, json=_auth("mallory", "nope"), timeout=10)
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json()["error"]["message"] == unknown_user.json()["error"]["message"]
    assert "Keystone uri=" in wrong_password.headers["WWW-Authenticate"]
    other_project = requests.post(url, json=_auth("alice", PASSWORD, "project-b"), timeout=10)
    assert other_project.status_code == 401 and "no role" in other_project.text
    malformed = requests.post(url, json={"auth": {"identity": {}}}, timeout=10)
    assert malformed.status_code == 400
    assert "auth.identity.methods" in malformed.json()["error"]["message"]
    assert requests.delete(url, timeout=10).status_code == 405


def test_token_rescoping_and_validation(cloud: Cloud) -> None:
    url = f"{cloud.url}/identity/v3/auth/tokens"
    rescoped = requests.post(
        url,
        json={"auth": {"identity": {"methods": ["token"], "token": {"id": cloud.tokens["alice"]}}}},
        timeout=10,
    )
    assert rescoped.status_code == 201
    subject = rescoped.headers["X-Subject-Token"]
    own = requests.get(
        url, headers={"X-Auth-Token": cloud.tokens["alice"], "X-Subject-Token": subject}, timeout=10
    )
    assert own.status_code == 200 and own.json()["token"]["user"]["name"] == "alice"
    by_admin = requests.get(
        url, headers={"X-Auth-Token": cloud.tokens["admin"], "X-Subject-Token": subject}, timeout=10
    )
    assert by_admin.status_code == 200
    by_bob = requests.get(
        url, headers={"X-Auth-Token": cloud.tokens["bob"], "X-Subject-Token": subject}, timeout=10
    )
    assert by_bob.status_code == 403
    bogus = requests.get(
        url,
        headers={"X-Auth-Token": cloud.tokens["admin"], "X-Subject-Token": "not-a-token"},
        timeout=10,
    )
    assert bogus.status_code == 404


def test_tampered_and_expired_tokens_are_refused(cloud: Cloud) -> None:
    plugin = cloud.api.app.auth
    claims = jwt.decode(cloud.tokens["alice"], options={"verify_signature": False})
    forged = jwt.encode({**claims, "roles": ["admin"]}, "another key" * 4, algorithm="HS256")
    expired = jwt.encode({**claims, "exp": int(time.time()) - 1}, plugin.key, algorithm="HS256")
    for token in (forged, expired, cloud.tokens["alice"] + "x"):
        response = cloud.client(None).get("/v2.1/servers", headers={"X-Auth-Token": token})
        assert response.status_code == 401


def test_deleted_users_tokens_stop_working(cloud: Cloud, flags: Any) -> None:
    flags(group="local_auth", identity_cache_seconds=0.1)
    store = IdentityStore()
    store.create_user("carol", "pw-carol", project="project-a", roles=("member",))
    token = get_token(cloud.url, "carol", "project-a", "pw-carol")
    headers = {"X-Auth-Token": token}
    assert cloud.client(None).get("/v2.1/servers", headers=headers).status_code == 200
    store.remove_role("carol", "project-a", "member")
    wait_for(
        lambda: cloud.client(None).get("/v2.1/servers", headers=headers).status_code == 401,
        what="a token without roles to be refused",
    )
    store.add_role("carol", "project-a", "admin")
    assert wait_for(
        lambda: cloud.client(None).get("/v2.1/os-hypervisors", headers=headers).status_code == 200,
        what="the new role",
    )
    store.delete_user("carol")
    wait_for(
        lambda: cloud.client(None).get("/v2.1/servers", headers=headers).status_code == 401,
        what="a deleted user's token to be refused",
    )


def test_password_hashes_and_implied_roles() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$") and "correct horse" not in hashed
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong") and not verify_password("garbage", "x")
    assert effective_roles(["admin"]) == ["admin", "member", "reader"]
    assert effective_roles(["reader"]) == ["reader"]
