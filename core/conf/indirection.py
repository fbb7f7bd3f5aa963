"""[indirection] options: where remotable object methods run."""

from oslo_config import cfg

GROUP = cfg.OptGroup("indirection", title="Remote object model options")

OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "api",
        default="local",
        help="Name of the indirection plugin (namespace nubis.indirection). 'local' runs "
        "remotable methods in this process against the database; 'conductor' sends them "
        "to nubis-conductor and is what nubis-compute uses.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
