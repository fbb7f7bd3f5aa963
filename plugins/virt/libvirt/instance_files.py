"""The files of a libvirt guest on its host, and what a live migration does with them.

Every guest has a directory ``[libvirt] instances_path/<uuid>`` holding the log libvirt
writes its serial console to (:data:`CONSOLE_LOG`) and, for a guest with an image, its
overlay disk (:data:`DISK`); while it is rescued, also its own definition and the rescue
disk (:mod:`.rescue`).

A live migration moves the console log to the destination's directory of the guest:

* on the destination, :func:`prepare_incoming` (pre_live_migration) makes the directory
  and leaves a marker file in it, whose name goes to the source in migrate_data;
* on the source, after a completed migration, :func:`forget_outgoing` looks for that
  marker in its own directory of the guest: found, both hosts use the same directory
  (shared storage, or two "hosts" on one machine) and only the marker goes; not found,
  the source's directory -- holding only the old console log, as a guest with local
  disks cannot migrate -- is removed;
* on the destination, :func:`settle_incoming` (after success) removes the marker, and
  :func:`forget_incoming` (after a failure) removes the directory if
  :func:`prepare_incoming` made it, else only the marker.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import uuid as uuid_module
from typing import Any

CONSOLE_LOG = "console.log"
DISK = "disk"
#: migrate_data keys: the destination's instances_path, its marker's name, and
#: whether pre_live_migration made the destination's directory of the guest.
INSTANCES_PATH_KEY = "libvirt_instances_path"
MARKER_KEY = "libvirt_dest_marker"
DIR_MADE_KEY = "libvirt_dest_dir_made"
_MARKER_PREFIX = ".incoming-"


def instance_dir(instances_path: str, uuid: str) -> str:
    """The directory of guest *uuid* under *instances_path*."""
    return os.path.join(instances_path, uuid)


def make_dir(instances_path: str, uuid: str) -> str:
    """Make the guest's directory (QEMU, running as another user, must traverse it)."""
    path = instance_dir(instances_path, uuid)
    os.makedirs(path, mode=0o755, exist_ok=True)
    return path


def prepare_incoming(instances_path: str, uuid: str) -> dict[str, Any]:
    """On the destination: make the guest's directory and mark it; return the
    migrate_data entries the source and the rollback need."""
    path = instance_dir(instances_path, uuid)
    made = not os.path.isdir(path)
    make_dir(instances_path, uuid)
    marker = f"{_MARKER_PREFIX}{uuid_module.uuid4().hex}"
    with open(os.path.join(path, marker), "x"):
        pass
    return {INSTANCES_PATH_KEY: instances_path, MARKER_KEY: marker, DIR_MADE_KEY: made}


def forget_outgoing(instances_path: str, uuid: str, migrate_data: dict[str, Any]) -> None:
    """On the source, after a completed migration: remove the guest's directory here,
    unless the destination's is the same one (see the module docstring)."""
    path = instance_dir(instances_path, uuid)
    marker = migrate_data.get(MARKER_KEY)
    if marker and os.path.exists(os.path.join(path, marker)):
        _unlink(os.path.join(path, marker))
        return
    shutil.rmtree(path, ignore_errors=True)


def settle_incoming(instances_path: str, uuid: str) -> None:
    """On the destination, after a completed migration: remove the markers."""
    for marker in glob.glob(os.path.join(instance_dir(instances_path, uuid), _MARKER_PREFIX + "*")):
        _unlink(marker)


def forget_incoming(
    instances_path: str, uuid: str, migrate_data: dict[str, Any] | None, keep: bool
) -> None:
    """On the destination, after a failed migration: remove the guest's directory if
    prepare_incoming made it (and *keep* is False), else only its marker."""
    data = migrate_data or {}
    if not keep and data.get(DIR_MADE_KEY, True):
        shutil.rmtree(instance_dir(instances_path, uuid), ignore_errors=True)
        return
    marker = data.get(MARKER_KEY)
    if marker:
        _unlink(os.path.join(instance_dir(instances_path, uuid), marker))


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
