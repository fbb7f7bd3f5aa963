"""``/os-keypairs`` as Nova answers it, per microversion: import and generate, list with
paging (2.35), show, delete; another user's key pairs for administrators only (2.10);
refusals (bad key, bad name, duplicate, quota) with one-line messages."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from nubis.core.api import key_pairs
from nubis.core.api.identity import IdentityStore
from tests.functional.api.conftest import Cloud
from tests.functional.api.test_clients import CLI, write_clouds_yaml

pytestmark = pytest.mark.usefixtures("no_key_pairs", "quota_of_four")


@pytest.fixture
def no_key_pairs(cloud: Cloud) -> None:
    """The personas start without key pairs (other modules of the shared cloud make some)."""
    for persona in ("alice", "bob", "admin"):
        client = cloud.client(persona, "2.2")
        for item in client.get("/v2.1/os-keypairs").json()["keypairs"]:
            client.delete(f"/v2.1/os-keypairs/{item['keypair']['name']}")


@pytest.fixture
def quota_of_four(flags):  # type: ignore[no-untyped-def]
    flags(group="quota", key_pairs=4)


@pytest.fixture
def ssh_public_key(tmp_path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True
    )
    return (tmp_path / "k.pub").read_text()


def _user_id(name: str) -> str:
    return str(IdentityStore().user(name).id)


def _md5_fingerprint(public_key_path: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-E", "md5", "-l", "-f", str(public_key_path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()[1].removeprefix("MD5:")


def test_import_generate_list_show_delete(cloud: Cloud, ssh_public_key: str, tmp_path) -> None:
    alice = cloud.client("alice", "2.2")
    tag = uuid.uuid4().hex[:6]
    imported = alice.post(
        "/v2.1/os-keypairs", {"keypair": {"name": f"imp-{tag}", "public_key": ssh_public_key}}
    )
    assert imported.status_code == 201, imported.text
    body = imported.json()["keypair"]
    assert body["fingerprint"] == _md5_fingerprint(tmp_path / "k.pub")
    assert body["type"] == "ssh" and "private_key" not in body

    made = alice.post("/v2.1/os-keypairs", {"keypair": {"name": f"gen-{tag}"}})
    assert made.status_code == 201, made.text
    generated = made.json()["keypair"]
    assert generated["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert key_pairs.fingerprint(generated["public_key"]) == generated["fingerprint"]

    listed = alice.get("/v2.1/os-keypairs").json()["keypairs"]
    assert sorted(k["keypair"]["name"] for k in listed) == [f"gen-{tag}", f"imp-{tag}"]
    shown = alice.get(f"/v2.1/os-keypairs/imp-{tag}").json()["keypair"]
    assert shown["public_key"] == ssh_public_key and shown["deleted"] is False
    assert shown["user_id"] == _user_id("alice")

    # key pairs are the user's: bob sees none of alice's
    assert cloud.client("bob").get(f"/v2.1/os-keypairs/imp-{tag}").status_code == 404
    assert cloud.client("bob").get("/v2.1/os-keypairs").json()["keypairs"] == []

    # 2.1: 200 on create, no type; 202 on delete
    old = cloud.client("alice", "2.1")
    legacy = old.post("/v2.1/os-keypairs", {"keypair": {"name": f"old-{tag}"}})
    assert legacy.status_code == 200 and "type" not in legacy.json()["keypair"]
    assert old.delete(f"/v2.1/os-keypairs/old-{tag}").status_code == 202

    for name in (f"imp-{tag}", f"gen-{tag}"):
        assert alice.delete(f"/v2.1/os-keypairs/{name}").status_code == 204
    assert alice.get(f"/v2.1/os-keypairs/imp-{tag}").status_code == 404
    assert alice.delete(f"/v2.1/os-keypairs/imp-{tag}").status_code == 404


def test_paging_from_2_35(cloud: Cloud) -> None:
    bob = cloud.client("bob", "2.35")
    names = [f"page-{i}" for i in range(3)]
    for name in names:
        assert bob.post("/v2.1/os-keypairs", {"keypair": {"name": name}}).status_code == 201
    try:
        first = bob.get("/v2.1/os-keypairs?limit=2").json()
        assert [k["keypair"]["name"] for k in first["keypairs"]] == names[:2]
        assert "marker=page-1" in first["keypairs_links"][0]["href"]
        rest = bob.get("/v2.1/os-keypairs?limit=2&marker=page-1").json()
        assert [k["keypair"]["name"] for k in rest["keypairs"]] == names[2:]
        assert "keypairs_links" not in rest
        bad = bob.get("/v2.1/os-keypairs?marker=nothing")
        assert bad.status_code == 400 and "nothing" in bad.text
    finally:
        for name in names:
            bob.delete(f"/v2.1/os-keypairs/{name}")


def test_administrators_manage_other_users_from_2_10(cloud: Cloud) -> None:
    admin = cloud.client("admin", "2.10")
    alice_id = _user_id("alice")
    made = admin.post("/v2.1/os-keypairs", {"keypair": {"name": "for-alice", "user_id": alice_id}})
    assert made.status_code == 201, made.text
    try:
        assert admin.get(f"/v2.1/os-keypairs/for-alice?user_id={alice_id}").status_code == 200
        assert cloud.client("alice").get("/v2.1/os-keypairs/for-alice").status_code == 200
        listed = admin.get(f"/v2.1/os-keypairs?user_id={alice_id}").json()["keypairs"]
        assert "for-alice" in {k["keypair"]["name"] for k in listed}
        # a member may not name another user
        bob = cloud.client("bob", "2.10")
        refused = bob.get(f"/v2.1/os-keypairs?user_id={alice_id}")
        assert refused.status_code == 403
        taken = bob.post("/v2.1/os-keypairs", {"keypair": {"name": "x", "user_id": alice_id}})
        assert taken.status_code == 403
        # before 2.10 user_id is not part of the body
        early = cloud.client("admin", "2.9").post(
            "/v2.1/os-keypairs", {"keypair": {"name": "y", "user_id": alice_id}}
        )
        assert early.status_code == 400 and "user_id" in early.text
    finally:
        admin.delete(f"/v2.1/os-keypairs/for-alice?user_id={alice_id}")


@pytest.mark.parametrize(
    ("keypair", "status", "words"),
    [
        ({"name": "k", "public_key": ""}, 400, "Keypair data is invalid"),
        (
            {"name": "k", "public_key": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDRKVhVpUe"},
            400,
            "Keypair data is invalid",
        ),
        ({"name": "k", "public_key": "ssh-rsa " + "A" * 2000}, 400, "Keypair data is invalid"),
        ({"name": ""}, 400, "keypair.name"),
        ({"name": "k" * 256}, 400, "keypair.name"),
        ({"name": "new\nline"}, 400, "keypair.name"),
        ({"name": "k", "type": "rsa"}, 400, "keypair.type"),
        ({"name": "k", "public_key": "not a cert", "type": "x509"}, 400, "X.509"),
    ],
)
def test_bad_key_pairs_are_refused_in_one_line(cloud: Cloud, keypair, status, words) -> None:
    response = cloud.client("alice", "2.2").post("/v2.1/os-keypairs", {"keypair": keypair})
    assert response.status_code == status, response.text
    message = response.json()["badRequest"]["message"]
    assert words in message and "\n" not in message


def test_duplicates_and_quota(cloud: Cloud) -> None:
    alice = cloud.client("alice", "2.2")
    names = [f"q{i}" for i in range(4)]
    try:
        for name in names[:3]:
            assert alice.post("/v2.1/os-keypairs", {"keypair": {"name": name}}).status_code == 201
        duplicate = alice.post("/v2.1/os-keypairs", {"keypair": {"name": "q0"}})
        assert duplicate.status_code == 409
        assert duplicate.json()["conflictingRequest"]["message"] == (
            "Key pair 'q0' already exists."
        )
        assert alice.post("/v2.1/os-keypairs", {"keypair": {"name": "q3"}}).status_code == 201
        # at the quota the count refuses first, as in Nova
        over = alice.post("/v2.1/os-keypairs", {"keypair": {"name": "q4"}})
        assert over.status_code == 403
        assert "Quota exceeded, too many key pairs." in over.text
    finally:
        for name in names:
            alice.delete(f"/v2.1/os-keypairs/{name}")


def test_x509_certificate_import_and_generation(cloud: Cloud) -> None:
    alice = cloud.client("alice", "2.2")
    made = alice.post("/v2.1/os-keypairs", {"keypair": {"name": "cert", "type": "x509"}})
    assert made.status_code == 201, made.text
    certificate = made.json()["keypair"]["public_key"]
    assert certificate.startswith("-----BEGIN CERTIFICATE-----")
    try:
        imported = alice.post(
            "/v2.1/os-keypairs",
            {"keypair": {"name": "cert2", "type": "x509", "public_key": certificate}},
        )
        assert imported.status_code == 201, imported.text
        assert imported.json()["keypair"]["fingerprint"] == made.json()["keypair"]["fingerprint"]
        assert len(imported.json()["keypair"]["fingerprint"].split(":")) == 20  # SHA-1
    finally:
        alice.delete("/v2.1/os-keypairs/cert")
        alice.delete("/v2.1/os-keypairs/cert2")


def test_openstack_keypair_commands(cloud: Cloud, tmp_path: Path, ssh_public_key: str) -> None:
    cli = CLI(write_clouds_yaml(tmp_path / "clouds.yaml", cloud.url))
    (tmp_path / "mine.pub").write_text(ssh_public_key)
    imported = cli.run(
        "alice", "keypair", "create", "--public-key", str(tmp_path / "mine.pub"), "cli-imported"
    )
    assert imported["fingerprint"] == _md5_fingerprint(tmp_path / "mine.pub")
    private = cli.run(
        "alice", "keypair", "create", "--private-key", str(tmp_path / "made"), "cli-made"
    )
    # the client makes the pair itself and imports its public half
    assert "PRIVATE KEY-----" in (tmp_path / "made").read_text()
    assert private["name"] == "cli-made"
    names = {k["Name"] for k in cli.run("alice", "keypair", "list")}
    assert {"cli-imported", "cli-made"} <= names
    shown = cli.run("alice", "keypair", "show", "cli-imported")
    assert shown["fingerprint"] == imported["fingerprint"]
    assert "No Keypair found for cli-imported" in cli.run(
        "bob", "keypair", "show", "cli-imported", parse=False, expect=1
    )
    cli.run("alice", "keypair", "delete", "cli-imported", "cli-made", parse=False)
    assert not {"cli-imported", "cli-made"} & {
        k["Name"] for k in cli.run("alice", "keypair", "list")
    }
