"""What the driver learns about its host: QEMU's version and machine types, KVM, CPU, memory.

Everything here is read once at ``init_host`` (QEMU is asked with ``--version`` and
``-machine help``, each bounded by a timeout) except memory, which the resource audit
reads from /proc/meminfo every time.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import subprocess

from nubis.core.virt import hardware


class HostError(Exception):
    """The host cannot run guests as configured; the message is one line."""


@dataclasses.dataclass(frozen=True)
class QemuInfo:
    """The QEMU binary: its version as one integer and its machine types."""

    binary: str
    version: int  # major * 1_000_000 + minor * 1_000 + micro
    version_text: str
    machines: dict[str, str]  # name or alias -> versioned machine type

    def resolve_machine(self, name: str) -> str:
        """The versioned machine type *name* stands for; HostError if QEMU has none."""
        try:
            return self.machines[name]
        except KeyError:
            known = ", ".join(sorted(self.machines)[:20])
            raise HostError(
                f"{self.binary} has no machine type {name!r}; some it has: {known}"
            ) from None


def _run(argv: list[str], timeout: float) -> str:
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise HostError(f"{argv[0]} not found; install QEMU (Debian: qemu-system-x86)") from None
    except subprocess.TimeoutExpired:
        raise HostError(f"`{' '.join(argv)}` did not answer within {timeout:g} s") from None
    if result.returncode != 0:
        message = " ".join((result.stderr or result.stdout).split())
        raise HostError(f"`{' '.join(argv)}` exited {result.returncode}: {message}")
    return result.stdout


def probe_qemu(binary: str, timeout: float) -> QemuInfo:
    """Ask *binary* for its version and machine types."""
    text = _run([binary, "--version"], timeout)
    match = re.search(r"version (\d+)\.(\d+)\.(\d+)", text)
    if match is None:
        raise HostError(f"cannot read a version from `{binary} --version`: {text.strip()!r}")
    major, minor, micro = (int(g) for g in match.groups())
    machines: dict[str, str] = {}
    for line in _run([binary, "-machine", "help"], timeout).splitlines()[1:]:
        parts = line.split()
        if not parts:
            continue
        name = parts[0]
        machines.setdefault(name, name)
        alias = re.search(r"\(alias of ([^)\s]+)\)", line)
        if alias:
            machines[name] = alias.group(1)
    return QemuInfo(
        binary=binary,
        version=major * 1_000_000 + minor * 1_000 + micro,
        version_text=f"{major}.{minor}.{micro}",
        machines=machines,
    )


def kvm_problem() -> str | None:
    """Why KVM cannot be used here (None when /dev/kvm opens read-write)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return f"/dev/kvm: {exc.strerror}"
    os.close(fd)
    return None


def choose_accel(accel: str) -> str:
    """``kvm`` or ``tcg`` for the ``[qemu] accel`` setting; HostError for kvm without KVM."""
    if accel == "tcg":
        return "tcg"
    problem = kvm_problem()
    if accel == "kvm" and problem:
        raise HostError(f"accel is kvm but {problem}; use accel = auto or tcg")
    return "tcg" if problem else "kvm"


def cpu_info() -> str:
    """The host CPU as the ``cpu_info`` JSON of :func:`nubis.core.virt.hardware.cpu_info`."""
    fields: dict[str, str] = {}
    sockets: set[str] = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "physical id":
                    sockets.add(value)
                fields.setdefault(key, value)
    except OSError:
        pass
    cpus = os.cpu_count() or 1
    threads = int(fields.get("siblings", "1") or 1) // max(
        1, int(fields.get("cpu cores", "1") or 1)
    )
    n_sockets = max(1, len(sockets))
    cores = max(1, cpus // n_sockets // max(1, threads))
    return hardware.cpu_info(
        platform.machine() or "x86_64",
        fields.get("model name"),
        fields.get("vendor_id"),
        n_sockets,
        cores,
        max(1, threads),
        fields.get("flags", "").split(),
    )


def memory_mb() -> tuple[int, int]:
    """(total, in use) MiB of this host from /proc/meminfo (in use = total - available)."""
    values: dict[str, int] = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                values[key] = int(parts[0])
    total = values.get("MemTotal", 0) // 1024
    available = values.get("MemAvailable", values.get("MemFree", 0)) // 1024
    return total, max(0, total - available)
