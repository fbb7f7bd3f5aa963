"""Guests' root disks: qcow2 overlays on local base images, made by QEMU itself.

An instance with an ``image_ref`` boots from ``<instances_path>/<uuid>/disk``, a qcow2
image whose unwritten clusters read from the base image: creating it costs no copy.
The overlay is made with QMP ``blockdev-create`` by a short-lived helper QEMU
(``-machine none``), so the driver needs no qemu-img: the base is opened read-only to
learn its format's virtual size, then the overlay file and its qcow2 format are created
as two jobs. The overlay is at least as large as the base and at least ``root_gb``.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from nubis.core.virt.disk_image import image_format
from nubis.core.virt.disk_image import virtual_size as virtual_size  # the driver reads it here
from nubis_virt_qemu import process
from nubis_virt_qemu.guest import GuestPaths
from nubis_virt_qemu.qmp import Monitor, QmpError, QmpLoop

GiB = 1024**3


class ImageError(Exception):
    """A base image is unusable or an overlay could not be made; one line."""


def find_base(images_path: str, image_ref: str) -> str:
    """The base image file *image_ref* names (a name in images_path, or absolute)."""
    path = image_ref if os.path.isabs(image_ref) else os.path.join(images_path, image_ref)
    if os.sep in image_ref and not os.path.isabs(image_ref):
        raise ImageError(
            f"image_ref {image_ref!r} must be a file name in {images_path} or an absolute path"
        )
    if not os.path.isfile(path):
        raise ImageError(f"base image {path} (image_ref {image_ref!r}) does not exist")
    return path


def create_overlay(
    loop: QmpLoop,
    binary: str,
    base: str,
    overlay: str,
    min_size: int,
    helper: GuestPaths,
    timeout: float,
) -> int:
    """Create qcow2 *overlay* backed by *base*; return its virtual size in bytes.

    *helper* gives the paths of the helper QEMU (QMP socket, pid and log files; the
    guest's own directory). Every step is bounded by *timeout* seconds. On failure the
    overlay is removed and ImageError says why.
    """
    fmt = image_format(base)
    argv = [
        binary,
        "-machine",
        "none",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-qmp",
        f"unix:{helper.qmp.replace(',', ',,')},server=on,wait=off",
        "-pidfile",
        helper.pid,
    ]
    try:
        pid = process.start(argv, helper)
    except process.ProcessError as exc:
        raise ImageError(str(exc)) from None
    monitor = Monitor(loop, helper.qmp, f"overlay-{os.path.basename(os.path.dirname(overlay))}")
    try:
        process.wait_for_socket(pid, helper, timeout)
        monitor.connect(timeout, alive=lambda: process.alive(pid))

        def qmp(command: str, **arguments: Any) -> Any:
            return monitor.execute(command, arguments, timeout=timeout)

        qmp(
            "blockdev-add",
            **{
                "driver": fmt,
                "node-name": "base",
                "read-only": True,
                "file": {"driver": "file", "filename": base},
            },
        )
        nodes = qmp("query-named-block-nodes", flat=True)
        base_size = next(
            int(n["image"]["virtual-size"]) for n in nodes if n.get("node-name") == "base"
        )
        size = max(base_size, int(min_size))
        _run_job(qmp, "create-file", {"driver": "file", "filename": overlay, "size": 0}, timeout)
        qmp("blockdev-add", driver="file", filename=overlay, **{"node-name": "overlay-file"})
        _run_job(
            qmp,
            "create-qcow2",
            {
                "driver": "qcow2",
                "file": "overlay-file",
                "size": size,
                "backing-file": base,
                "backing-fmt": fmt,
            },
            timeout,
        )
        qmp("blockdev-del", **{"node-name": "overlay-file"})
        return size
    except (QmpError, process.ProcessError, StopIteration, KeyError, ValueError) as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(overlay)
        raise ImageError(f"cannot create overlay {overlay} on {base}: {exc}") from None
    finally:
        with contextlib.suppress(QmpError):
            monitor.execute("quit", timeout=timeout)
        monitor.close(timeout)
        if not process.wait_gone(pid, timeout):
            with contextlib.suppress(process.ProcessError):
                process.kill(pid, helper, timeout)
        for leftover in (helper.qmp, helper.pid):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def _run_job(qmp: Any, job_id: str, options: dict[str, Any], timeout: float) -> None:
    """Run one ``blockdev-create`` job to its end; QmpError with QEMU's reason on failure."""
    qmp("blockdev-create", **{"job-id": job_id, "options": options})
    deadline = time.monotonic() + timeout
    while True:
        jobs = {j["id"]: j for j in qmp("query-jobs")}
        job = jobs.get(job_id)
        if job is None:
            raise QmpError(f"job {job_id} vanished")
        if job["status"] == "concluded":
            qmp("job-dismiss", id=job_id)
            if job.get("error"):
                raise QmpError(f"{job_id}: {job['error']}")
            return
        if time.monotonic() >= deadline:
            raise QmpError(f"job {job_id} did not conclude within {timeout:g} s")
        time.sleep(0.01)
