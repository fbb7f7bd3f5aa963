"""QEMU processes: the command line of a guest, starting, finding and ending them.

A guest's QEMU runs in a session of its own (a compute service that stops or crashes
leaves its guests running) with stdin closed and its output in ``qemu.log``. It is
found again through its pid file; a pid counts as the guest's only while the process
is alive (not a zombie) and its command line names the guest's QMP socket, so a
recycled pid is never taken for a guest.

Processes this Python process started are its children: :func:`reap` collects their
exit status once they have ended, so no zombie is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time

from nubis_virt_qemu.guest import GuestPaths, GuestSpec

# Children started here, by pid, so that their exit status can be collected.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
_CHILDREN_LOCK = threading.Lock()


class ProcessError(Exception):
    """A QEMU process could not be started or stopped; the message is one line."""


def command(
    binary: str,
    spec: GuestSpec,
    paths: GuestPaths,
    accel: str,
    incoming: bool = False,
) -> list[str]:
    """The QEMU command line of *spec*.

    The guest starts paused (``-S``; the driver resumes it once it watches its events)
    or, with *incoming*, waits for a live migration (``-incoming defer``; it resumes by
    itself when the migration completes). Only the guest-visible part comes from the
    spec, so the source and the destination of a migration build the same machine.
    """
    argv = [
        binary,
        "-name",
        f"guest={spec.name},debug-threads=on",
        "-uuid",
        spec.uuid,
        "-machine",
        f"{spec.machine},accel={accel}",
        "-m",
        f"{spec.memory_mb}M",
        "-smp",
        str(spec.vcpus),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-chardev",
        f"file,id=serial0,path={_opt(paths.console)},append=on",
        "-serial",
        "chardev:serial0",
        "-qmp",
        f"unix:{_opt(paths.qmp)},server=on,wait=off",
        "-pidfile",
        paths.pid,
    ]
    if spec.cpu_model:
        argv += ["-cpu", spec.cpu_model]
    if spec.disk:
        blockdev = {
            "driver": "qcow2",
            "node-name": "disk0",
            "file": {"driver": "file", "filename": spec.disk},
        }
        argv += [
            "-blockdev",
            json.dumps(blockdev, sort_keys=True),
            "-device",
            "virtio-blk-pci,drive=disk0,id=virtio-disk0,bootindex=1",
        ]
    argv += ["-incoming", "defer"] if incoming else ["-S"]
    return argv


def _opt(value: str) -> str:
    """Escape *value* for QEMU's key=value option syntax (a comma is doubled)."""
    return value.replace(",", ",,")


def start(argv: list[str], paths: GuestPaths) -> int:
    """Start QEMU with *argv*; return its pid. Its output goes to the guest's qemu.log."""
    reap_all()
    for stale in (paths.qmp, paths.pid):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale)
    with open(paths.log, "ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise ProcessError(f"cannot run {argv[0]}: {exc}") from None
    with _CHILDREN_LOCK:
        _CHILDREN[proc.pid] = proc
    return proc.pid


def wait_for_socket(pid: int, paths: GuestPaths, timeout: float) -> None:
    """Wait until QEMU *pid* listens on its QMP socket; ProcessError if it exits first."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(paths.qmp):
        if not alive(pid):
            reap(pid)
            raise ProcessError(f"QEMU exited at start: {last_error(paths)}")
        if time.monotonic() >= deadline:
            raise ProcessError(f"QEMU did not open {paths.qmp} within {timeout:g} s")
        time.sleep(0.01)


def last_error(paths: GuestPaths) -> str:
    """The last lines QEMU wrote to qemu.log, as one line (its reason for failing)."""
    try:
        with open(paths.log, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            tail = f.read().decode(errors="replace")
    except OSError:
        return "no log"
    lines = [line.strip() for line in tail.splitlines()]
    starts = [i for i, line in enumerate(lines) if line.startswith("--- ")]
    if starts:  # only what the last start wrote
        lines = lines[starts[-1] + 1 :]
    errors = [line for line in lines if line and "warning:" not in line]
    return " ".join((errors or [line for line in lines if line] or ["no message"])[-2:])


def read_pid(paths: GuestPaths) -> int | None:
    """The guest's QEMU pid when that process is alive and is the guest's, else None."""
    try:
        with open(paths.pid) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) and is_guest_process(pid, paths) else None


def alive(pid: int) -> bool:
    """Whether *pid* runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    state = stat.rpartition(b")")[2].split()[0]
    return state not in (b"Z", b"X")


def is_guest_process(pid: int, paths: GuestPaths) -> bool:
    """Whether process *pid*'s command line names the guest's QMP socket."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    wanted = f"unix:{_opt(paths.qmp)},".encode()
    return any(arg.startswith(wanted) for arg in args)


def reap(pid: int) -> bool:
    """Collect the exit status of *pid* if it is a child of this process and has ended.

    Returns True once there is nothing left to collect (collected now or before, or
    not a child of this process), False while the child still runs.
    """
    with _CHILDREN_LOCK:
        proc = _CHILDREN.get(pid)
    if proc is not None:
        if proc.poll() is None:
            return False
        with _CHILDREN_LOCK:
            _CHILDREN.pop(pid, None)
        return True
    try:
        collected, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return collected != 0


def reap_all() -> None:
    """Collect every child QEMU of this process that has ended."""
    with _CHILDREN_LOCK:
        pids = list(_CHILDREN)
    for pid in pids:
        reap(pid)


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until *pid* has exited and, if it is a child, been reaped; False when
    *timeout* ran out first. (A process whose main thread has exited shows as a zombie
    while its other threads still run: only its reaping says it is over.)"""
    deadline = time.monotonic() + timeout
    while alive(pid) or not reap(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def kill(pid: int, paths: GuestPaths, timeout: float) -> None:
    """SIGKILL the guest's QEMU *pid* and wait for it; ProcessError if it survives."""
    if not is_guest_process(pid, paths):
        reap(pid)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not wait_gone(pid, timeout):
        raise ProcessError(f"QEMU pid {pid} survived SIGKILL for {timeout:g} s")
