"""[upgrade_levels] options: RPC version caps during rolling upgrades."""

from oslo_config import cfg

GROUP = cfg.OptGroup(
    "upgrade_levels",
    title="RPC version caps",
    help="Each option caps the RPC version this service sends to one service's API: "
    "an explicit version such as '1.2', or 'auto' for the lowest version any running "
    "service of that kind reports. Unset means no cap.",
)

RPC_APIS = ("baseapi", "compute", "conductor", "compute_task", "scheduler")

OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        name,
        mutable=True,
        help=f"Version cap for messages sent to the {name} RPC API: 'X.Y' or 'auto'.",
    )
    for name in RPC_APIS
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
