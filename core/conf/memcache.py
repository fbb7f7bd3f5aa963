"""[memcache] options: the memcached servers the ``mc`` servicegroup driver uses."""

from oslo_config import cfg

GROUP = cfg.OptGroup("memcache", title="memcached options (servicegroup driver mc)")

OPTS: list[cfg.Opt] = [
    cfg.ListOpt(
        "servers",
        default=["127.0.0.1:11211"],
        help="memcached servers as host:port, comma-separated. With more than one, keys "
        "are spread over them by rendezvous hashing and a server that fails is skipped "
        "for dead_timeout seconds.",
    ),
    cfg.FloatOpt(
        "connect_timeout",
        default=1.0,
        min=0.01,
        help="Longest wait, in seconds, to open a connection to a memcached server.",
    ),
    cfg.FloatOpt(
        "timeout",
        default=1.0,
        min=0.01,
        help="Longest wait, in seconds, for a memcached server to answer one request.",
    ),
    cfg.FloatOpt(
        "dead_timeout",
        default=10.0,
        min=0.0,
        help="With several servers: seconds a server that failed is left out before it "
        "is tried again (its keys go to the other servers meanwhile).",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
