"""[conductor] options: the conductor service."""

from oslo_config import cfg

from nubis.core.conf.service_options import service_group_opts

GROUP = cfg.OptGroup("conductor", title="Conductor service options")

OPTS: list[cfg.Opt] = [
    *service_group_opts("conductor", "conductor", periodic_tasks=["reconcile_builds"]),
    cfg.IntOpt(
        "live_migration_max_retries",
        default=3,
        min=0,
        help="When the scheduler chooses a live migration's destination and the "
        "destination's pre-checks refuse the instance, how many other destinations the "
        "conductor tries before giving up with MaxRetriesExceeded.",
    ),
    cfg.IntOpt(
        "build_request_timeout",
        default=180,
        min=0,
        mutable=True,
        help="Seconds a build may stay in task 'scheduling' (accepted by the API, not yet "
        "taken by a compute host) without any change to its record before the "
        "conductor's reconcile_builds periodic task acts: the first time it sends the "
        "build request again (idempotent: a host takes an instance only from "
        "'scheduling'), the next time it ends the instance in ERROR with a fault naming "
        "the cause. 0 disables it.",
    ),
    cfg.IntOpt(
        "task_timeout",
        default=900,
        min=0,
        mutable=True,
        help="Seconds an instance may stay in task powering-on, powering-off, "
        "rebooting or deleting without any change to its record before the conductor's "
        "reconcile_builds periodic task clears the task with a fault saying the request "
        "was not carried out (the instance keeps its state; the user may ask again). "
        "A rebuild (task rebuilding or rebuild_spawning) unchanged as long ends in "
        "ERROR with a fault instead (its old guest may be gone). 0 disables it.",
    ),
    cfg.IntOpt(
        "reconcile_interval",
        default=60,
        min=1,
        help="Seconds between two runs of the conductor's reconcile_builds periodic task.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
