"""[servicegroup] options: how services learn which of their peers are up."""

from oslo_config import cfg

GROUP = cfg.OptGroup("servicegroup", title="Service membership options")

OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "driver",
        default="db",
        help="Name of the membership driver plugin (namespace nubis.servicegroup).",
    ),
    cfg.FloatOpt(
        "recovery_grace",
        default=10.0,
        min=0,
        help="Seconds after an unreachable membership backend (ZooKeeper, memcached, "
        "Redis) answers again during which a member seen up before the outage still "
        "counts as up while it re-registers, provided it was seen up no more than "
        "service_down_time before the backend answered again (after a longer outage "
        "a member is up only once the backend itself sees it). While the backend is "
        "unreachable, the last known state is kept for up to service_down_time.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
