"""A guest's definition and where its files are.

A guest is a directory ``<state_path>/<uuid>/`` holding:

=============== ======================================================================
``guest.json``  the :class:`GuestSpec` (written atomically); the guest exists on this
                host exactly while this file does
``qmp``         QEMU's QMP socket (while the process runs)
``qemu.pid``    QEMU's pid file
``console.log`` the guest's serial console
``qemu.log``    QEMU's own messages (stderr), the source of a failed start's reason
=============== ======================================================================

Its disk, when it has one, is the qcow2 overlay ``<instances_path>/<uuid>/disk`` on a
base image (see :mod:`.images`). The spec is what the QEMU command line is built from,
so a guest restarted after a power-off, or started on the destination of a live
migration, has exactly the same virtual hardware.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import uuid as uuid_module
from typing import Any

SPEC_FILE = "guest.json"
QMP_SOCKET = "qmp"
PID_FILE = "qemu.pid"
CONSOLE_LOG = "console.log"
QEMU_LOG = "qemu.log"

#: sun_path is 108 bytes with its terminating NUL.
MAX_SOCKET_PATH = 107


@dataclasses.dataclass
class GuestSpec:
    """The virtual hardware of one guest and how nubis knows it.

    ``machine`` is a versioned machine type (``pc-i440fx-7.2``), ``cpu_model`` the
    ``-cpu`` value ("" for QEMU's default), ``disk`` the overlay's path (None:
    diskless) and ``image`` the instance's image_ref. ``incoming`` is True on the
    destination of a live migration until the guest has arrived.
    """

    uuid: str
    name: str
    memory_mb: int
    vcpus: int
    machine: str
    cpu_model: str = ""
    disk: str | None = None
    image: str = ""
    incoming: bool = False

    def __post_init__(self) -> None:
        try:
            self.uuid = str(uuid_module.UUID(str(self.uuid)))
        except ValueError:
            raise ValueError(f"guest uuid {self.uuid!r} is not a UUID") from None
        if not isinstance(self.memory_mb, int) or self.memory_mb <= 0:
            raise ValueError(f"memory_mb must be a positive integer, got {self.memory_mb!r}")
        if not isinstance(self.vcpus, int) or self.vcpus <= 0:
            raise ValueError(f"vcpus must be a positive integer, got {self.vcpus!r}")
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"guest name must be a non-empty string, got {self.name!r}")
        if not self.machine:
            raise ValueError("guest machine type must not be empty")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> GuestSpec:
        """Build a spec from JSON data; ValueError names what is missing or wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"a guest definition must be a JSON object, got {type(data).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise ValueError(f"guest definition lacks {', '.join(missing)}")
        return cls(**{k: v for k, v in data.items() if k in fields})


class GuestPaths:
    """The files of guest *uuid* under *state_path*."""

    def __init__(self, state_path: str, uuid: str) -> None:
        self.dir = os.path.join(state_path, uuid)
        self.spec = os.path.join(self.dir, SPEC_FILE)
        self.qmp = os.path.join(self.dir, QMP_SOCKET)
        self.pid = os.path.join(self.dir, PID_FILE)
        self.console = os.path.join(self.dir, CONSOLE_LOG)
        self.log = os.path.join(self.dir, QEMU_LOG)


def socket_path_problem(state_path: str) -> str | None:
    """Why guests' QMP sockets under *state_path* would be too long (None if fine)."""
    longest = len(os.fsencode(GuestPaths(state_path, str(uuid_module.UUID(int=0))).qmp))
    if longest > MAX_SOCKET_PATH:
        room = MAX_SOCKET_PATH - (longest - len(os.fsencode(state_path)))
        return (
            f"{state_path} is {len(os.fsencode(state_path))} bytes long; QMP socket "
            f"paths under it would exceed {MAX_SOCKET_PATH} bytes: use at most {room}"
        )
    return None


def write_spec(paths: GuestPaths, spec: GuestSpec) -> None:
    """Write the spec atomically (a reader sees the old or the new file, never half)."""
    os.makedirs(paths.dir, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".guest-", dir=paths.dir)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(spec.to_dict(), f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, paths.spec)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_spec(paths: GuestPaths) -> GuestSpec:
    """Read the spec; OSError when absent, ValueError when unreadable."""
    with open(paths.spec) as f:
        try:
            data = json.load(f)
        except ValueError as exc:
            raise ValueError(f"{paths.spec} is not JSON: {exc}") from None
    try:
        return GuestSpec.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{paths.spec}: {exc}") from None
