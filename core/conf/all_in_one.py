"""[all_in_one] options: which services nubis-all-in-one composes in one process."""

from oslo_config import cfg

GROUP = cfg.OptGroup("all_in_one", title="All-in-one composition")

OPTS: list[cfg.Opt] = [
    cfg.ListOpt(
        "services",
        default=["conductor"],
        help="Services nubis-all-in-one starts in its one process, in start order. Each "
        "name is a service group ([conductor], [scheduler], [compute]) whose manager "
        "option chooses the manager plugin.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
