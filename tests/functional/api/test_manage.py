"""``nubis-manage user ...`` and ``nubis-manage image ...`` as an operator runs them, and
the libvirt driver booting a guest from a registry image (a qcow2 overlay on it)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from nubis.core.api.exception import Unauthorized
from nubis.core.api.identity import IdentityStore, LockoutPolicy
from nubis.core.api.image_registry import ImageAPI
from nubis.core.context import get_admin_context
from tests.fixtures.real_servers import libvirt_domain_type

MANAGE = str(Path(sys.executable).with_name("nubis-manage"))


@pytest.fixture
def manage(sqlite_db_url: str, tmp_path: Path) -> Any:
    config = tmp_path / "nubis.conf"
    config.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\n[database]\nconnection = {sqlite_db_url}\n"
        f"[api]\nimages_path = {tmp_path / 'images'}\n"
    )

    def run(*args: str, expect: int = 0, stdin: str | None = None) -> str:
        done = subprocess.run(
            [MANAGE, "--config-file", str(config), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == expect, f"{args} -> {done.returncode}: {done.stderr}"
        return done.stdout if expect == 0 else done.stderr

    return run


def test_user_commands(manage: Any) -> None:
    created = manage("user", "create", "dana", "--password", "pw", "--project", "demo")
    assert created.startswith("created user dana (") and "member on project demo" in created
    manage(
        "user",
        "create",
        "erin",
        "--password",
        "-",
        "--project",
        "demo",
        "--role",
        "admin",
        stdin="from-stdin\n",
    )
    manage("user", "role-add", "dana", "--project", "other", "--role", "reader")
    listing = manage("user", "list")
    assert "member@demo" in listing and "reader@other" in listing and "admin@demo" in listing
    store = IdentityStore()
    assert store.authenticate("erin", "from-stdin").roles == ("admin", "member", "reader")
    assert store.authenticate("dana", "pw", "other").roles == ("reader",)
    manage("user", "password", "dana", "--password", "new")
    assert store.authenticate("dana", "new").project_name == "demo"
    assert "error: a user named dana already exists" in manage(
        "user", "create", "dana", "--password", "x", expect=2
    )
    assert "error: role 'Boss!'" in manage(
        "user", "role-add", "dana", "--project", "demo", "--role", "Boss!", expect=2
    )
    manage("user", "delete", "dana")
    assert "error: user dana could not be found" in manage("user", "delete", "dana", expect=2)
    assert "dana" not in manage("user", "list")


def test_user_enable_disable_and_lockout_commands(manage: Any) -> None:
    manage("user", "create", "fay", "--password", "pw", "--project", "demo")
    store = IdentityStore(LockoutPolicy(failure_attempts=2, duration=0))
    assert "its tokens are revoked" in manage("user", "disable", "fay")
    row = store.user("fay")
    assert not row.enabled and row.tokens_valid_after is not None
    assert "fay" in manage("user", "list") and " false " in manage("user", "list")
    with pytest.raises(Unauthorized):
        store.authenticate("fay", "pw")
    assert "is enabled" in manage("user", "enable", "fay")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            store.authenticate("fay", "wrong")
    with pytest.raises(Unauthorized):
        store.authenticate("fay", "pw")  # locked until an administrator acts
    manage("user", "enable", "fay")
    assert store.authenticate("fay", "pw").user_name == "fay"
    before = store.user("fay").tokens_valid_after
    assert "its tokens are revoked" in manage("user", "password", "fay", "--password", "pw2")
    assert store.user("fay").tokens_valid_after > before
    assert "error: user nobody could not be found" in manage("user", "disable", "nobody", expect=2)


def test_image_import_refuses_a_symbolic_link(manage: Any, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$x:19000::::::\n")
    (tmp_path / "link").symlink_to(secret)
    refused = manage("image", "import", "x", str(tmp_path / "link"), expect=2)
    assert "symbolic link" in refused
    assert "no images" in manage("image", "list")


def test_image_commands(manage: Any, tmp_path: Path) -> None:
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\x01" * 3 * 1024 * 1024)
    out = manage("image", "import", "raw-one", str(source))
    assert "imported image raw-one (" in out and "raw, 3145728 bytes" in out
    image = ImageAPI().get(get_admin_context(), "raw-one")
    stored = tmp_path / "images" / image.uuid
    assert stored.read_bytes() == source.read_bytes() and stored != source
    assert image.checksum == hashlib.md5(source.read_bytes(), usedforsecurity=False).hexdigest()
    assert image.os_hash_value == hashlib.sha512(source.read_bytes()).hexdigest()
    assert "raw-one" in manage("image", "list")
    assert "error: an image named raw-one already exists" in manage(
        "image", "import", "raw-one", str(source), expect=2
    )
    assert "is not a regular file" in manage(
        "image", "import", "x", str(tmp_path / "missing"), expect=2
    )
    manage("image", "delete", "raw-one")
    assert not stored.exists() and manage("image", "list").strip() == "no images"


# --- the libvirt driver boots from a registry image ------------------------------------


@pytest.fixture
def state_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="nubis-img-", dir="/var/tmp"))
    path.chmod(0o755)  # QEMU runs as libvirt-qemu
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.libvirtd
def test_libvirt_boots_a_guest_from_a_registry_image(
    sqlite_db_url: str, state_dir: Path, libvirt_uri: str, flags: Any
) -> None:
    from nubis.core.virt import power_state
    from nubis.plugins.virt.libvirt import conf as libvirt_conf
    from nubis.plugins.virt.libvirt import qcow2
    from nubis.plugins.virt.libvirt.driver import LibvirtDriver

    images = state_dir / "images"
    flags(group="api", images_path=str(images))
    source = state_dir / "upload.qcow2"
    qcow2.create(str(source), 32 * 1024**2)
    image = ImageAPI().import_file(get_admin_context(), "base", str(source))
    images.chmod(0o755)

    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[])
    libvirt_conf.register_opts(conf)
    for name, value in {
        "virt_type": libvirt_domain_type(),
        "connection_uri": libvirt_uri,
        "instances_path": str(state_dir / "instances"),
        "images_path": str(images),
    }.items():
        conf.set_override(name, value, group="libvirt")
    driver = LibvirtDriver(conf)
    driver.init_host("img-host")
    instance = types.SimpleNamespace(
        uuid=str(uuid.uuid4()),
        name=f"nubis-img-{uuid.uuid4().hex[:8]}",
        memory_mb=64,
        vcpus=1,
        root_gb=1,
        image_ref=image.uuid,
        host="img-host",
        node=None,
        power_state=0,
    )
    try:
        driver.spawn(None, instance)
        try:
            assert driver.get_info(instance).state == power_state.RUNNING
            overlay = state_dir / "instances" / instance.uuid / "disk"
            header = overlay.read_bytes()[:4096]
            assert str(images / image.uuid).encode() in header  # the backing file
            assert qcow2.virtual_size(str(overlay)) == 1024**3
        finally:
            driver.destroy(None, instance)
    finally:
        driver.cleanup_host("img-host")
    assert (images / image.uuid).exists(), "the base image stays"
