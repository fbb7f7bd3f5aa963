"""[quota] options: how much of a kind one user or project may keep."""

from oslo_config import cfg

GROUP = cfg.OptGroup("quota", title="Quotas")

OPTS: list[cfg.Opt] = [
    cfg.IntOpt(
        "key_pairs",
        default=100,
        min=-1,
        help="Key pairs one user may keep (Nova's default, 100); -1 for no limit. A "
        "create past it is refused with 403 'Quota exceeded, too many key pairs.'",
    ),
    cfg.IntOpt(
        "metadata_items",
        default=128,
        min=-1,
        help="Metadata items (key/value pairs) one server may have (Nova's default, 128); "
        "-1 for no limit. A create or change past it is refused with 403.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
