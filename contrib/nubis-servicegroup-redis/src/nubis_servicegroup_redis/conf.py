"""The ``[redis_servicegroup]`` options, owned by this plugin.

Registered on the service's configuration by the driver's constructor; listed for
oslo-config-generator through the entry point
``oslo.config.opts: nubis.servicegroup.redis``.
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("redis_servicegroup", title="The redis servicegroup (membership) driver")

OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "url",
        default="redis://127.0.0.1:6379/0",
        help="Redis server as a redis-py URL: redis://[[user]:password@]host[:port][/db], "
        "rediss:// for TLS, unix:///path/to/socket?db=N for a unix socket.",
    ),
    cfg.StrOpt(
        "key_prefix",
        default="nubis:servicegroup",
        help="Prefix of the keys the driver uses; a group (topic) is the sorted set "
        "<key_prefix>:<group>. Deployments sharing one Redis need different prefixes.",
    ),
    cfg.FloatOpt(
        "connect_timeout",
        default=1.0,
        min=0.01,
        help="Longest wait, in seconds, to open a connection to Redis.",
    ),
    cfg.FloatOpt(
        "timeout",
        default=1.0,
        min=0.01,
        help="Longest wait, in seconds, for Redis to answer one request.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register ``[redis_servicegroup]`` on *conf* (a fresh OptGroup each time: oslo.config
    keeps overrides in the group object, and two ConfigOpts must not share them)."""
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The ``[redis_servicegroup]`` options, for oslo-config-generator."""
    return [(GROUP.name, list(OPTS))]
