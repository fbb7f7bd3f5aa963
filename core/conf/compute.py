"""[compute] options: the compute service and its virt driver."""

from oslo_config import cfg

from nubis.core.conf.service_options import service_group_opts

GROUP = cfg.OptGroup("compute", title="Compute service options")

OPTS: list[cfg.Opt] = service_group_opts(
    "compute",
    "compute",
    periodic_tasks=[
        "update_available_resource",
        "sync_power_states",
        "reap_orphans",
        "build_timeout",
        "instance_usage_audit",
        "reclaim_queued_deletes",
        "offload_shelved_instances",
    ],
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
    cfg.IntOpt(
        "instance_build_timeout",
        default=1800,
        min=0,
        mutable=True,
        help="Seconds after its creation a build may take before it is ended in ERROR "
        "with a fault (InstanceBuildTimeout): by the compute host's build_timeout "
        "periodic task for the builds on that host, by the conductor's "
        "reconcile_builds task for any other. Nova's option of the same name defaults "
        "to 0; nubis promises that every accepted request ends, so it is on by "
        "default. 0 disables it.",
    ),
    cfg.FloatOpt(
        "cast_timeout",
        default=10.0,
        min=0.1,
        help="Seconds the compute API (nubis-api) waits for the message bus to take a "
        "cast that starts an operation (create, start, stop, reboot, delete). When the "
        "bus does not take it in time the operation is undone (a new instance is "
        "deleted, a claimed task state is released) and the request fails with "
        "ServiceUnavailable (HTTP 503), so that no API thread waits on a broker that "
        "is away.",
    ),
    cfg.FloatOpt(
        "bookkeeping_retry_interval",
        default=2.0,
        min=0.1,
        help="Seconds between two attempts of the compute manager to write the records "
        "of a failed operation (its fault, the reverted task state, the end of its "
        "action) that could not be written when it failed (database or conductor away).",
    ),
    cfg.FloatOpt(
        "bookkeeping_retry_timeout",
        default=900.0,
        min=0,
        help="Seconds the compute manager keeps trying to write such records before it "
        "gives up on them (logged as an error; the conductor's reconciler and the "
        "build timeout end what is left).",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
