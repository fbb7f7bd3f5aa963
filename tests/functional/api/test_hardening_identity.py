"""Hostile clients of the identity service (the API half of the hardening issue, rows 5,
6 and 18; tests/functional/api/test_hardening.py has the others): token renewal that
keeps the original expiry; a password change, disabling and deleting a user revoking
tokens; lockout, per-address throttling and bounded password hashing.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests

from nubis.core import exception
from nubis.core.api import identity
from nubis.core.api.identity import IdentityStore
from nubis.core.context import get_admin_context
from nubis.core.db import api as db
from tests.functional.api.conftest import PASSWORD, Cloud, get_token
from tests.functional.api.test_hardening import TOKENS, _auth_body, _send

# --- rows 5, 6: tokens as Keystone has them ---------------------------------------------------


def _renew(cloud: Cloud, token: str) -> requests.Response:
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}
    return _send(cloud, None, "POST", TOKENS, body)


def test_renewal_keeps_the_original_expiry(cloud: Cloud) -> None:
    plugin = cloud.api.app.auth
    claims = jwt.decode(cloud.tokens["alice"], options={"verify_signature": False})
    soon = int(time.time()) + 120
    short = jwt.encode({**claims, "exp": soon, "iat": time.time()}, plugin.key, algorithm="HS256")
    renewed = _renew(cloud, short)
    assert renewed.status_code == 201
    first = renewed.json()["token"]
    again = _renew(cloud, renewed.headers["X-Subject-Token"])
    assert again.status_code == 201
    expected = jwt.decode(short, options={"verify_signature": False})["exp"]
    for token in (renewed.headers["X-Subject-Token"], again.headers["X-Subject-Token"]):
        assert jwt.decode(token, options={"verify_signature": False})["exp"] == expected
    assert first["expires_at"] == again.json()["token"]["expires_at"]
    assert again.json()["token"]["audit_ids"][1] == first["audit_ids"][1]  # the chain's root


@pytest.fixture
def carol(cloud: Cloud, flags: Any) -> Iterator[str]:
    flags(group="local_auth", identity_cache_seconds=0)
    IdentityStore().create_user("carol", "pw-carol", project="project-a", roles=("member",))
    yield get_token(cloud.url, "carol", "project-a", "pw-carol")
    try:
        IdentityStore().delete_user("carol")
    except exception.IdentityUserNotFound:
        pass


def _works(cloud: Cloud, token: str) -> bool:
    status = cloud.client(None).get("/v2.1/servers", headers={"X-Auth-Token": token}).status_code
    assert status in (200, 401)
    return status == 200


def test_a_password_change_revokes_tokens(cloud: Cloud, carol: str) -> None:
    renewed = _renew(cloud, carol).headers["X-Subject-Token"]
    assert _works(cloud, carol) and _works(cloud, renewed)
    IdentityStore().set_password("carol", "new-pw")
    assert not _works(cloud, carol) and not _works(cloud, renewed)
    refused = _renew(cloud, carol)
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
    fresh = get_token(cloud.url, "carol", "project-a", "new-pw")
    assert _works(cloud, fresh)


def test_disabling_or_deleting_a_user_revokes_tokens(cloud: Cloud, carol: str) -> None:
    store = IdentityStore()
    store.set_enabled("carol", False)
    assert not _works(cloud, carol)
    assert _renew(cloud, carol).status_code == 401
    store.set_enabled("carol", True)
    assert not _works(cloud, carol)  # enabling again does not bring old tokens back
    fresh = get_token(cloud.url, "carol", "project-a", "pw-carol")
    assert _works(cloud, fresh)
    store.delete_user("carol")
    assert not _works(cloud, fresh)


# --- row 18: lockout, per-address throttling, bounded hashing ----------------------------------


def test_lockout_after_consecutive_failures(cloud: Cloud, carol: str, flags: Any) -> None:
    flags(group="local_auth", lockout_failure_attempts=3, lockout_duration=600)
    url = cloud.url + TOKENS
    try:
        for _ in range(3):
            wrong = requests.post(url, json=_auth_body("carol", "wrong"), timeout=30)
            assert wrong.status_code == 401
        locked = requests.post(url, json=_auth_body("carol", "pw-carol"), timeout=30)
        assert locked.status_code == 401  # the right password, but locked
        row = db.identity_user_get(get_admin_context(), "carol")
        assert row.failed_auth_count == 3
        # The lock ends lockout_duration after the last failure (here: moved back).
        db.identity_user_update(
            get_admin_context(),
            row.id,
            {"failed_auth_at": row.failed_auth_at - datetime.timedelta(seconds=601)},
        )
        assert (
            requests.post(url, json=_auth_body("carol", "pw-carol"), timeout=30).status_code == 201
        )
        assert db.identity_user_get(get_admin_context(), "carol").failed_auth_count == 0
        # A success resets the count; an administrator's enable lifts a lock early.
        for _ in range(3):
            requests.post(url, json=_auth_body("carol", "wrong"), timeout=30)
        assert (
            requests.post(url, json=_auth_body("carol", "pw-carol"), timeout=30).status_code == 401
        )
        IdentityStore().set_enabled("carol", True)
        assert (
            requests.post(url, json=_auth_body("carol", "pw-carol"), timeout=30).status_code == 201
        )
    finally:
        cloud.api.app.auth.throttle.reset()


def test_failed_logins_are_throttled_per_address(cloud: Cloud, flags: Any) -> None:
    flags(group="local_auth", address_failure_attempts=3, address_failure_window=300)
    url = cloud.url + TOKENS
    try:
        for _ in range(3):
            assert requests.post(url, json=_auth_body("nobody", "x"), timeout=30).status_code == 401
        throttled = requests.post(url, json=_auth_body("alice", PASSWORD), timeout=30)
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) >= 1
        assert "address_failure_attempts" in throttled.json()["error"]["message"]
        # Token validation and the compute API are not throttled.
        assert cloud.client("alice").get("/v2.1/servers").status_code == 200
    finally:
        cloud.api.app.auth.throttle.reset()
    assert requests.post(url, json=_auth_body("alice", PASSWORD), timeout=30).status_code == 201


def test_password_hashing_is_bounded(cloud: Cloud, flags: Any) -> None:
    flags(group="local_auth", password_hash_concurrency=1, password_hash_wait=0.2)
    identity.configure_hashing(1, 0.2)
    url = cloud.url + TOKENS
    with identity.hashing_slot():  # the one slot is busy
        busy = requests.post(url, json=_auth_body("alice", PASSWORD), timeout=30)
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    assert "password_hash_concurrency" in busy.json()["error"]["message"]
    # Parallel logins queue for the slot (bounded by the wait) instead of all hashing
    # at once; with a wait long enough they all succeed.
    flags(group="local_auth", password_hash_wait=30)
    results: list[int] = []

    def login() -> None:
        results.append(
            requests.post(url, json=_auth_body("alice", PASSWORD), timeout=60).status_code
        )

    threads = [threading.Thread(target=login) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [201] * 8
