"""[servicegroup] options: how services learn which of their peers are up."""

from oslo_config import cfg

GROUP = cfg.OptGroup("servicegroup", title="Service membership options")

OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "driver",
        default="db",
        help="Name of the membership driver plugin (namespace nubis.servicegroup).",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
