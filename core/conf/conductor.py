"""[conductor] options: the conductor service."""

from oslo_config import cfg

from nubis.core.conf.service_options import service_group_opts

GROUP = cfg.OptGroup("conductor", title="Conductor service options")

OPTS: list[cfg.Opt] = [
    *service_group_opts("conductor", "conductor", periodic_tasks=[]),
    cfg.IntOpt(
        "live_migration_max_retries",
        default=3,
        min=0,
        help="When the scheduler chooses a live migration's destination and the "
        "destination's pre-checks refuse the instance, how many other destinations the "
        "conductor tries before giving up with MaxRetriesExceeded.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
