"""[quota] options: how much of a kind one user or project may keep, by default.

These are the defaults of every project (Nova's); the ``default`` quota class, a
project's own limits and a user's limits within a project (``os-quota-class-sets``,
``os-quota-sets``) override them. -1 means no limit.
"""

from oslo_config import cfg

GROUP = cfg.OptGroup("quota", title="Quotas")

OPTS: list[cfg.Opt] = [
    cfg.IntOpt(
        "instances",
        default=10,
        min=-1,
        help="Servers one project may have (Nova's default, 10); -1 for no limit.",
    ),
    cfg.IntOpt(
        "cores",
        default=20,
        min=-1,
        help="vCPUs of all the servers of one project (Nova's default, 20); -1 for no limit.",
    ),
    cfg.IntOpt(
        "ram",
        default=50 * 1024,
        min=-1,
        help="MiB of RAM of all the servers of one project (Nova's default, 51200); -1 for "
        "no limit.",
    ),
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
    cfg.IntOpt(
        "injected_files",
        default=5,
        min=-1,
        help="Reported only (personality files are not taken): Nova's default, 5.",
    ),
    cfg.IntOpt(
        "injected_file_content_bytes",
        default=10 * 1024,
        min=-1,
        help="Reported only (personality files are not taken): Nova's default, 10240.",
    ),
    cfg.IntOpt(
        "injected_file_path_length",
        default=255,
        min=-1,
        help="Reported only (personality files are not taken): Nova's default, 255.",
    ),
    cfg.IntOpt(
        "server_groups",
        default=10,
        min=-1,
        help="Server groups (os-server-groups) a project may have (a user's own limit "
        "counts the groups that user created). -1 for no limit. Nova's default, 10.",
    ),
    cfg.IntOpt(
        "server_group_members",
        default=10,
        min=-1,
        help="Servers one user may put in one server group (a create with the 'group' "
        "scheduler hint). -1 for no limit. Nova's default, 10.",
    ),
    cfg.BoolOpt(
        "recheck_quota",
        default=True,
        help="Count again after a create's instances are recorded and undo the create "
        "(403) when concurrent creates together went past a limit. Without it two "
        "creates racing for the last place may both get it.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
