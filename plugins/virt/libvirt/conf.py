"""The ``[libvirt]`` options, owned by the libvirt plugin.

Registered on the service's configuration by LibvirtDriver's constructor; listed for
oslo-config-generator through the entry point ``oslo.config.opts: nubis.virt.libvirt``.
"""

from __future__ import annotations

from pathlib import Path

from oslo_config import cfg

GROUP = cfg.OptGroup("libvirt", title="The libvirt virt driver")

VIRT_TYPES = ("kvm", "qemu", "test")

#: The simulated host of ``virt_type = test`` (see the file's comment).
TEST_NODE_XML = Path(__file__).with_name("test_node.xml").resolve()

DEFAULT_URIS = {
    "kvm": "qemu:///system",
    "qemu": "qemu:///system",
    "test": f"test://{TEST_NODE_XML}",
}

OPTS = [
    cfg.StrOpt(
        "virt_type",
        default="kvm",
        choices=[
            ("kvm", "hardware virtualisation (needs a usable /dev/kvm)"),
            ("qemu", "emulation (TCG): slow, works everywhere"),
            ("test", "libvirt's in-process test driver: nothing really runs"),
        ],
        help="Kind of guests the driver creates.",
    ),
    cfg.StrOpt(
        "connection_uri",
        default="",
        help="libvirt URI to connect to; empty: qemu:///system for kvm and qemu, and "
        "for test a private simulated host (test:///<the plugin's test_node.xml>), so "
        "that several compute hosts in one process each have their own guests. "
        "test:///default is one simulated host shared by the whole process.",
    ),
    cfg.StrOpt(
        "instances_path",
        default="/var/lib/nubis/instances",
        help="Directory of the instances' overlay disks (one sub-directory per instance). "
        "Its file system is the node's local_gb.",
    ),
    cfg.StrOpt(
        "images_path",
        default="/var/lib/nubis/images",
        help="Directory of local base images; an instance's image_ref is a file name "
        "in it (or an absolute path). An empty image_ref means a diskless guest. "
        "Snapshots (createImage, createBackup, shelve) are written there: it is the image "
        "store nubis-api serves ([api] images_path names the same directory).",
    ),
    cfg.BoolOpt(
        "instances_path_shared",
        default=False,
        help="Whether instances_path and images_path are on storage every compute host "
        "shares; only then can guests with a disk be live-migrated.",
    ),
    cfg.StrOpt(
        "host_ip",
        default="",
        help="IP address other hosts reach this one on (get_host_ip_addr); empty: the "
        "address of this host's name, or 127.0.0.1.",
    ),
    cfg.IntOpt(
        "wait_soft_reboot_seconds",
        default=120,
        min=0,
        help="How long a soft reboot waits for the guest to shut down by itself before "
        "it power-cycles the guest instead.",
    ),
    cfg.FloatOpt(
        "reconnect_interval",
        default=2.0,
        min=0.05,
        help="Seconds between attempts to reconnect to libvirt after the connection was lost.",
    ),
    cfg.IntOpt(
        "keepalive_interval",
        default=5,
        min=0,
        help="Seconds between keepalive probes on a remote connection (0 disables); "
        "a connection is declared lost after keepalive_count unanswered probes.",
    ),
    cfg.IntOpt("keepalive_count", default=3, min=1, help="See keepalive_interval."),
    cfg.StrOpt(
        "live_migration_uri",
        default="qemu+tcp://%s/system",
        help="URI the source host's libvirtd uses to reach this host's libvirtd for a "
        "peer-to-peer live migration; %s is replaced by this host's name. The "
        "destination sends it to the source in the pre-checks.",
    ),
    cfg.FloatOpt(
        "live_migration_completion_timeout",
        default=800.0,
        min=0,
        help="Seconds per GiB of guest memory (at least 1 GiB counted) a live migration "
        "may take before it is aborted and rolled back; 0 waits for ever.",
    ),
    cfg.FloatOpt(
        "live_migration_abort_timeout",
        default=30.0,
        min=1,
        help="Seconds an aborted (or timed-out) live migration may take to end in "
        "libvirt; after that the driver stops waiting and reports it failed, with the "
        "guest still on the source.",
    ),
    cfg.FloatOpt(
        "live_migration_progress_interval",
        default=0.5,
        min=0.05,
        help="Seconds between two reads of a running live migration's job statistics "
        "(each is reported to the manager's progress callback).",
    ),
    cfg.IntOpt(
        "live_migration_bandwidth",
        default=0,
        min=0,
        help="Largest bandwidth a live migration may use, MiB/s; 0 means unlimited.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register ``[libvirt]`` on *conf*.

    A fresh OptGroup each time: oslo.config keeps overrides in the group object, so
    sharing one between two ConfigOpts (two drivers in one process, as in tests) would
    share their overrides.
    """
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The ``[libvirt]`` options (entry point ``oslo.config.opts: nubis.virt.libvirt``)."""
    return [(GROUP.name, list(OPTS))]
