"""Helpers of the qemu driver's tests (imported by the test modules and conftest.py)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from nubis_virt_qemu.driver import QemuDriver

from nubis.core.virt import events

#: A 512-byte boot sector (hand-assembled 16-bit code): it writes "nubis guest booted"
#: to COM1, then a dot about every second (18 ticks of the BIOS timer) for ever.
BOOT_SECTOR_CODE = bytes.fromhex(
    "fa31c08ed88ed0bc007cfcbaf803be257cac84c07403eeebf8b91200fbf4e2fcb02eeeebf4"
)
BOOT_MESSAGE = b"nubis guest booted"


def boot_sector() -> bytes:
    sector = BOOT_SECTOR_CODE + BOOT_MESSAGE + b"\r\n\0"
    return sector + b"\0" * (510 - len(sector)) + b"\x55\xaa"


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.02) -> bool:
    """Poll *predicate* until true (-> True) or *timeout* seconds pass (-> False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


class Events:
    """Records a driver's events (as its registered listener)."""

    def __init__(self) -> None:
        self.received: list[events.Event] = []
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self, event: events.Event) -> None:
        with self._lock:
            self.threads.add(threading.get_ident())
            self.received.append(event)

    def transitions(self, uuid: str) -> list[str]:
        with self._lock:
            return [
                e.transition
                for e in self.received
                if isinstance(e, events.LifecycleEvent) and e.instance_uuid == uuid
            ]


def qemu_pids(uuid_: str) -> list[int]:
    """Pids of live QEMU processes of guest *uuid_* (any host on this machine)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rpartition(b")")[2].split()[0]
        except OSError:
            continue
        if state not in (b"Z", b"X") and b"qemu" in args[0] and uuid_.encode() in args:
            found.append(int(entry))
    return found


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0") if a]


def console(driver: QemuDriver, uuid_: str) -> bytes:
    """What guest *uuid_* wrote to its serial console on *driver*'s host so far."""
    path = os.path.join(driver.conf.qemu.state_path, uuid_, "console.log")
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""
