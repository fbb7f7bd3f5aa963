"""[all_in_one] options: which services nubis-all-in-one composes in one process."""

from oslo_config import cfg

GROUP = cfg.OptGroup("all_in_one", title="All-in-one composition")

OPTS: list[cfg.Opt] = [
    cfg.ListOpt(
        "services",
        default=["conductor"],
        help="Services nubis-all-in-one starts in its one process, in start order. Each "
        "name is a service group ([conductor], [scheduler], [compute]) whose manager "
        "option chooses the manager plugin, or 'api' (the REST API, see [api]).",
    ),
    cfg.ListOpt(
        "compute_hosts",
        default=[],
        help="Host names of the compute services nubis-all-in-one runs when 'compute' is "
        "in services: one compute service (with its own virt driver) per name. Empty: "
        "one compute service named by [DEFAULT] host.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
