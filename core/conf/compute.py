"""[compute] options: the compute service and its virt driver."""

from oslo_config import cfg

from nubis.core.conf.service_options import service_group_opts

GROUP = cfg.OptGroup("compute", title="Compute service options")

OPTS: list[cfg.Opt] = service_group_opts(
    "compute",
    "compute",
    periodic_tasks=["update_available_resource", "sync_power_states", "reap_orphans"],
) + [
    cfg.StrOpt(
        "virt_driver",
        default="libvirt",
        help="Name of the hypervisor driver plugin (namespace nubis.virt).",
    ),
    cfg.IntOpt(
        "max_concurrent_live_migrations",
        default=1,
        min=0,
        help="Live migrations this host runs as the source at the same time; more wait "
        "in status 'queued'. 0 means no limit.",
    ),
    cfg.StrOpt(
        "orphan_action",
        default="log",
        choices=(
            ("noop", "do nothing"),
            ("log", "log a warning per orphan guest"),
            ("reap", "destroy the orphan guest and its disks"),
        ),
        mutable=True,
        help="What the reap_orphans periodic task does with a guest the hypervisor runs "
        "but the database has deleted or never knew.",
    ),
    cfg.IntOpt(
        "shutdown_timeout",
        default=60,
        min=0,
        mutable=True,
        help="Seconds a clean stop waits for the guest to shut down before forcing it off "
        "(0 forces it off at once).",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
