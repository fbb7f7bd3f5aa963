"""Fixtures of the qemu driver's own tests: hosts (drivers with directories of their own),
instances, a bootable base image, and the check that no QEMU process is left behind.

Every host's directories live under one short temporary root (QMP socket paths are
limited to 107 bytes). When a test ends, any guest still listed by one of its drivers
fails it, and so does any QEMU process still running from its directories (both are
removed first). Without ``qemu-system-x86_64`` the tests skip, or fail when
``NUBIS_REQUIRE_SERVERS=1`` (as nubis's CI sets).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import types
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from nubis_virt_qemu import conf as qemu_conf
from nubis_virt_qemu.conformance import stray_processes
from nubis_virt_qemu.driver import QemuDriver
from oslo_config import cfg
from qemu_testlib import boot_sector, wait_until

BINARY = "qemu-system-x86_64"

#: Test defaults of every host (see nubis_virt_qemu.conformance for why).
DEFAULTS: dict[str, Any] = {
    "host_ip": "127.0.0.1",
    "wait_soft_reboot_seconds": 1,
    "stop_timeout": 3,
    "live_migration_bandwidth": 1,
    "live_migration_progress_interval": 0.1,
    "live_migration_abort_timeout": 5,
}


def required(reason: str) -> None:
    """Skip for a missing prerequisite, or fail when servers are required (CI)."""
    if os.environ.get("NUBIS_REQUIRE_SERVERS", "") not in ("", "0", "false"):
        pytest.fail(f"required environment missing (NUBIS_REQUIRE_SERVERS=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def qemu_binary() -> str:
    path = shutil.which(BINARY)
    if path is None:
        required(f"{BINARY} is not installed (Debian: qemu-system-x86)")
    return str(path)


@pytest.fixture
def root(qemu_binary: str) -> Iterator[str]:
    """A short temporary directory for the test's hosts; checked for stray QEMU after."""
    path = tempfile.mkdtemp(prefix="nqt-", dir="/tmp")
    yield path
    stray = stray_processes(path)
    for pid in stray:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not stray_processes(path), 5)
    shutil.rmtree(path, ignore_errors=True)
    assert not stray, f"QEMU processes left running from {path}: {stray}"


@pytest.fixture
def images_path(root: str) -> str:
    """The hosts' images_path, holding ``boot.img``: a raw 1 MiB disk with the boot sector."""
    path = os.path.join(root, "images")
    os.makedirs(path)
    with open(os.path.join(path, "boot.img"), "wb") as f:
        f.write(boot_sector())
        f.truncate(1024 * 1024)
    return path


@pytest.fixture
def make_host(root: str, images_path: str) -> Iterator[Callable[..., QemuDriver]]:
    """``make_host(name, **[qemu] options)`` -> an initialised driver of host *name*.

    Each host has its own state_path (``<root>/<name>``); instances_path is shared by
    default (``<root>/instances``). On teardown a guest still listed fails the test.
    """
    made: list[tuple[QemuDriver, str]] = []

    def make(name: str, **options: Any) -> QemuDriver:
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[])
        qemu_conf.register_opts(conf)
        values = {
            **DEFAULTS,
            "state_path": os.path.join(root, name),
            "instances_path": os.path.join(root, "instances"),
            "images_path": images_path,
            **options,
        }
        for option, value in values.items():
            conf.set_override(option, value, group="qemu")
        driver = QemuDriver(conf)
        driver.init_host(name)
        made.append((driver, name))
        return driver

    yield make
    leftovers = []
    for driver, name in made:
        if driver._loop is None or not driver._loop._thread.is_alive():
            continue  # cleaned up by the test itself
        for uuid_ in driver.list_instance_uuids():
            leftovers.append(f"{uuid_} on {name}")
            driver.destroy(None, types.SimpleNamespace(uuid=uuid_))
        driver.cleanup_host(name)
    assert not leftovers, f"guests left behind: {', '.join(leftovers)}"


@pytest.fixture
def instance() -> Callable[..., Any]:
    """``instance(**fields)`` -> a stand-in Instance (64 MiB, one vCPU, diskless)."""

    def make(**fields: Any) -> Any:
        values = {
            "uuid": str(uuid.uuid4()),
            "name": f"nqt-{uuid.uuid4().hex[:8]}",
            "memory_mb": 64,
            "vcpus": 1,
            "root_gb": 0,
            "image_ref": "",
            "host": None,
            "node": None,
            "power_state": 0,
        }
        values.update(fields)
        return types.SimpleNamespace(**values)

    return make
