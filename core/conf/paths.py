"""Directories and files nubis keeps its state in: checked before, created private.

* :func:`directory_problem` says why a path cannot serve as a directory nubis writes
  in (it is a file, lies under a file, cannot be created, is not writable), or None.
  It tries for real -- a temporary file or directory made and removed at once -- since
  permission bits say nothing for root or for /proc and read-only mounts. The start-up
  check (:mod:`nubis.core.conf.check`) runs it on every directory a service will write.
* :func:`make_private_dir` creates a directory (and missing parents) mode 0700: the
  state directory holds the database, signing keys and credentials. A directory that
  already exists keeps its mode (an operator may open it up on purpose, e.g. for QEMU
  to reach instance disks below it).
* :func:`create_private_file` creates an empty file mode 0600 unless it exists, and
  :func:`tighten` takes group and other permissions away from a file this process owns.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile

from nubis.core import exception

LOG = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def _nearest_existing(path: str) -> str:
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def directory_problem(path: str) -> str | None:
    """Why *path* cannot be a directory nubis creates and writes in; None if it can."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        try:
            fd, probe = tempfile.mkstemp(prefix=".nubis-check-", dir=path)
        except OSError as exc:
            return f"cannot write in {path}: {exc.strerror or exc}"
        os.close(fd)
        os.unlink(probe)
        return None
    if os.path.lexists(path):
        return f"{path} exists and is not a directory"
    existing = _nearest_existing(path)
    if not os.path.isdir(existing):
        return f"cannot create {path}: {existing} is not a directory"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".nubis-check-", dir=existing))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return f"cannot create {path}: creating a directory in {existing} fails ({reason})"
    return None


def make_private_dir(path: str, option: str) -> None:
    """Create directory *path* (mode 0700) unless it exists; *option* names where the
    path comes from in the one-line ConfigurationError raised when that fails."""
    try:
        os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    except OSError as exc:
        raise exception.ConfigurationError(
            option=option, reason=directory_problem(path) or f"cannot create {path}: {exc}"
        ) from exc


def create_private_file(path: str, option: str) -> None:
    """Create *path* empty with mode 0600 unless it exists (then :func:`tighten` it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        tighten(path)
        return
    except OSError as exc:
        raise exception.ConfigurationError(
            option=option, reason=f"cannot create {path}: {exc.strerror or exc}"
        ) from exc
    os.close(fd)


def tighten(path: str) -> None:
    """Remove group and other permissions from *path* if this process owns it."""
    try:
        st = os.stat(path)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        return
    if st.st_mode & 0o077:
        mode = stat.S_IMODE(st.st_mode) & ~0o077
        try:
            os.chmod(path, mode)
        except OSError as exc:
            LOG.warning("%s is open to other users and could not be made private: %s", path, exc)
            return
        LOG.warning("%s was open to other users; it is now mode %o", path, mode)
