"""How the nubis conformance kit runs the ``qemu`` driver (its environment module).

Registered under the entry point group ``nubis.conformance.environments`` (entry point
``nubis_virt_qemu``): the kit loads it when it runs, so every kit
run where this package is installed -- ``nubis-conformance``, this package's own tests,
nubis's tests/conformance -- configures the driver the same way. It answers the kit's
``pytest_nubis_conformance_targets`` hook for ``nubis.virt:qemu`` only, with two
targets that differ in the accelerator:

* ``qemu`` -- ``accel = auto`` (KVM where /dev/kvm is usable, TCG otherwise);
* ``qemu-tcg`` -- ``accel = tcg``: the emulation path, usable on any machine.

Each host (the primary and the ``peer_options`` one, the live-migration destination)
gets a state directory of its own under /tmp; both listen for migrations on 127.0.0.1.
A migration is held to 1 MiB/s so that progress is seen (a diskless guest's memory is
mostly zero pages: at full speed the copy ends before the first sample), and a soft
reboot waits 1 s for the firmware-only guest, which ignores the ACPI power button.

When the test ends the directories are removed; a QEMU process still running from
them fails the test (after being killed): a driver must not leave guests behind.
Without ``qemu-system-x86_64`` the tests report a missing environment.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from typing import Any

import pytest

from nubis.core.conformance import Target, harness

BINARY = "qemu-system-x86_64"


def stray_processes(directory: str) -> list[int]:
    """Pids of live QEMU processes whose command line mentions *directory*."""
    found = []
    needle = directory.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rpartition(b")")[2].split()[0]
        except OSError:
            continue
        if state not in (b"Z", b"X") and b"qemu" in cmdline.split(b"\0")[0] and needle in cmdline:
            found.append(int(entry))
    return found


def host_options(request: pytest.FixtureRequest, accel: str) -> dict[str, dict[str, Any]]:
    """Options of one host with directories of its own, removed (and checked) afterwards."""
    if shutil.which(BINARY) is None:
        harness.missing(f"{BINARY} is not installed (Debian: qemu-system-x86)")
    # Short: QMP socket paths are limited to 107 bytes.
    root = tempfile.mkdtemp(prefix="nq-", dir="/tmp")

    def remove() -> None:
        stray = stray_processes(root)
        for pid in stray:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while stray_processes(root) and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(root, ignore_errors=True)
        assert not stray, f"QEMU processes left running from {root}: pids {stray}"

    request.addfinalizer(remove)
    return {
        "qemu": {
            "accel": accel,
            "state_path": os.path.join(root, "state"),
            "instances_path": os.path.join(root, "instances"),
            "images_path": os.path.join(root, "images"),
            "host_ip": "127.0.0.1",
            "wait_soft_reboot_seconds": 1,
            "stop_timeout": 3,
            "live_migration_bandwidth": 1,
            "live_migration_progress_interval": 0.1,
            "live_migration_abort_timeout": 5,
        }
    }


def _auto(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    return host_options(request, "auto")


def _tcg(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    return host_options(request, "tcg")


@pytest.hookimpl(optionalhook=True)
def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    if (namespace, plugin) != ("nubis.virt", "qemu"):
        return None
    return [
        Target("qemu", _auto, {"peer_options": _auto}),
        Target("qemu-tcg", _tcg, {"peer_options": _tcg}),
    ]
