"""[zookeeper] options: the ZooKeeper ensemble the ``zk`` servicegroup driver uses."""

from oslo_config import cfg

GROUP = cfg.OptGroup("zookeeper", title="ZooKeeper options (servicegroup driver zk)")

OPTS: list[cfg.Opt] = [
    cfg.ListOpt(
        "hosts",
        default=["127.0.0.1:2181"],
        help="ZooKeeper servers as host:port, comma-separated; the client connects to one "
        "of them and fails over to the others.",
    ),
    cfg.FloatOpt(
        "session_timeout",
        default=10.0,
        min=1.0,
        help="Seconds the ZooKeeper session (and so a member's ephemeral node) survives "
        "without contact from this process. The server clamps it to between 2 and 20 "
        "times its tickTime.",
    ),
    cfg.StrOpt(
        "chroot",
        default="",
        help="Path prefix every nubis node lives under, e.g. /nubis-prod, so several "
        "deployments can share one ensemble. Created when missing. Empty: none.",
    ),
    cfg.StrOpt(
        "root",
        default="/nubis/services",
        help="Path (below chroot) of the membership tree: a member is the ephemeral node "
        "<root>/<group>/<host>.",
    ),
    cfg.FloatOpt(
        "connect_timeout",
        default=5.0,
        min=0.1,
        help="Longest wait, in seconds, for a connection to ZooKeeper and for the answer "
        "to each request.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
