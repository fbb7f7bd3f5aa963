"""[database] options: the database the conductor (or an all-in-one process) owns."""

from oslo_config import cfg

GROUP = cfg.OptGroup("database", title="Database options")

OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "connection",
        default="sqlite:///$state_path/nubis.sqlite",
        secret=True,
        help="SQLAlchemy URL of the nubis database, e.g. sqlite:////var/lib/nubis/nubis.sqlite, "
        "postgresql+psycopg2://nubis:secret@db/nubis or mysql+pymysql://nubis:secret@db/nubis.",
    ),
    cfg.IntOpt(
        "max_retries",
        default=10,
        min=0,
        help="How many times a database transaction that failed on a transient error "
        "(deadlock, serialization failure, lost connection, locked SQLite database) is "
        "run again before the error is raised. 0 disables retrying.",
    ),
    cfg.FloatOpt(
        "retry_interval",
        default=0.1,
        min=0,
        help="Seconds before the first retry of a transaction; each further retry waits "
        "twice as long as the one before, up to max_retry_interval.",
    ),
    cfg.FloatOpt(
        "max_retry_interval",
        default=5.0,
        min=0,
        help="Longest wait, in seconds, between two retries of a transaction.",
    ),
    cfg.IntOpt(
        "connection_debug",
        default=0,
        min=0,
        max=100,
        help="SQL logging verbosity: 0 logs nothing, 50 and above logs every statement, "
        "100 also logs result rows.",
    ),
    cfg.IntOpt(
        "max_pool_size",
        default=5,
        min=1,
        help="Connections kept open in the pool (PostgreSQL, MariaDB/MySQL and file "
        "SQLite databases).",
    ),
    cfg.IntOpt(
        "max_overflow",
        default=10,
        min=0,
        help="Connections opened beyond max_pool_size under load; closed when returned.",
    ),
    cfg.IntOpt(
        "pool_timeout",
        default=30,
        min=1,
        help="Seconds to wait for a free pooled connection before failing.",
    ),
    cfg.IntOpt(
        "connection_recycle_time",
        default=3600,
        min=-1,
        help="Seconds after which a pooled connection is closed and replaced on its next "
        "checkout; -1 keeps connections forever.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
