"""The ``[qemu]`` options, owned by this plugin.

Registered on the service's configuration by QemuDriver's constructor; listed for
oslo-config-generator (and found by the conformance kit) through the entry point
``oslo.config.opts: nubis.virt.qemu``.
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("qemu", title="The qemu virt driver (QEMU run directly, over QMP)")

OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "binary",
        default="qemu-system-x86_64",
        help="The QEMU system emulator to run guests with (a name on PATH or a path).",
    ),
    cfg.StrOpt(
        "accel",
        default="auto",
        choices=[
            ("auto", "kvm when /dev/kvm can be opened, tcg otherwise"),
            ("kvm", "hardware virtualisation; init_host fails without a usable /dev/kvm"),
            ("tcg", "emulation: slow, works everywhere"),
        ],
        help="Accelerator of the guests.",
    ),
    cfg.StrOpt(
        "machine_type",
        default="pc",
        help="QEMU machine type of new guests (see `qemu-system-x86_64 -machine help`). "
        "An alias such as pc or q35 is resolved to the versioned type when a guest is "
        "created and kept with it, so its device layout survives QEMU upgrades and "
        "live migration.",
    ),
    cfg.StrOpt(
        "cpu_model",
        default="",
        help="-cpu of new guests; empty: QEMU's default model of the machine type "
        "(migratable between any x86 hosts). 'host' passes the host CPU through "
        "(kvm only; live migration then needs identical CPUs).",
    ),
    cfg.StrOpt(
        "state_path",
        default="/var/lib/nubis/qemu",
        help="Directory of this host's guests: one sub-directory per guest with its "
        "definition, QMP socket, pid file and logs. Two compute hosts on one machine "
        "need two directories. Unix sockets limit its length to 66 characters.",
    ),
    cfg.StrOpt(
        "instances_path",
        default="/var/lib/nubis/qemu-instances",
        help="Directory of the guests' overlay disks (one sub-directory per guest). Its "
        "file system is the node's local_gb.",
    ),
    cfg.BoolOpt(
        "instances_path_shared",
        default=False,
        help="Whether instances_path is storage every compute host sees at the same "
        "path; only then can guests with a disk be live-migrated.",
    ),
    cfg.StrOpt(
        "images_path",
        default="/var/lib/nubis/images",
        help="Directory of local base images; an instance's image_ref is a file name "
        "in it (or an absolute path). An empty image_ref means a diskless guest.",
    ),
    cfg.StrOpt(
        "host_ip",
        default="",
        help="IP address other hosts reach this one on (get_host_ip_addr, and where an "
        "incoming live migration listens); empty: the address of this host's name, "
        "or 127.0.0.1.",
    ),
    cfg.FloatOpt(
        "qmp_timeout",
        default=10.0,
        min=0.1,
        help="Longest wait, in seconds, for QEMU to answer one QMP command.",
    ),
    cfg.FloatOpt(
        "start_timeout",
        default=10.0,
        min=0.1,
        help="Longest wait, in seconds, for a new QEMU process to open its QMP socket.",
    ),
    cfg.FloatOpt(
        "stop_timeout",
        default=5.0,
        min=0.1,
        help="Longest wait, in seconds, for a QEMU process to exit after `quit` (then "
        "SIGKILL, and as long again).",
    ),
    cfg.IntOpt(
        "wait_soft_reboot_seconds",
        default=60,
        min=0,
        help="How long a soft reboot waits for the guest to power itself off after the "
        "ACPI power button before it power-cycles the guest instead.",
    ),
    cfg.IntOpt(
        "live_migration_bandwidth",
        default=0,
        min=0,
        help="Largest bandwidth a live migration may use, MiB/s; 0 means unlimited.",
    ),
    cfg.FloatOpt(
        "live_migration_completion_timeout",
        default=800.0,
        min=0,
        help="Seconds per GiB of guest memory (at least 1 GiB counted) a live migration "
        "may take before it is cancelled and rolled back; 0 waits for ever.",
    ),
    cfg.FloatOpt(
        "live_migration_abort_timeout",
        default=10.0,
        min=0.1,
        help="Seconds a cancelled live migration may take to end in QEMU before the "
        "driver stops waiting and reports it failed (the guest stays on the source).",
    ),
    cfg.FloatOpt(
        "live_migration_progress_interval",
        default=0.5,
        min=0.01,
        help="Seconds between two reads of a running live migration's statistics "
        "(query-migrate); each is reported to the manager's progress callback.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register ``[qemu]`` on *conf*.

    A fresh OptGroup each time: oslo.config keeps overrides in the group object, and
    two drivers in one process (two hosts, as in tests) must not share them.
    """
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The ``[qemu]`` options (entry point ``oslo.config.opts: nubis.virt.qemu``)."""
    return [(GROUP.name, list(OPTS))]
