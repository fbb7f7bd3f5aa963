"""[DEFAULT] options of the instance usage audit: Nova's ``instance_usage_audit`` and
``instance_usage_audit_period``."""

from oslo_config import cfg

PERIOD_PATTERN = (
    r"^(hour(@[0-5]?[0-9])?"
    r"|day(@([01]?[0-9]|2[0-3]))?"
    r"|month(@(0?[0-9]|1[0-9]|2[0-8]))?"
    r"|year(@(0?[0-9]|1[0-2]))?)$"
)
"""A period unit and, after ``@``, its offset: the minute of an hour, the hour of a day,
the day of a month (up to 28: every month has it), the month of a year."""

OPTS: list[cfg.Opt] = [
    cfg.BoolOpt(
        "instance_usage_audit",
        default=False,
        mutable=True,
        help="Audit the servers' usage once per period: each compute host's "
        "instance_usage_audit periodic task writes a usage record of every server it ran "
        "during the last completed period (logger nubis.usage_audit, one JSON object "
        "per line) and records its run in the task log (GET "
        "/os-instance_usage_audit_log).",
    ),
    cfg.StrOpt(
        "instance_usage_audit_period",
        default="month",
        regex=PERIOD_PATTERN,
        mutable=True,
        help="The period of the instance usage audit: hour, day, month or year, each "
        "beginning at the start of its unit (UTC), or shifted by an offset after @: "
        "hour@MINUTE (0-59), day@HOUR (0-23), month@DAY (1-28), year@MONTH (1-12); "
        "month@15 audits from the 15th to the 15th. The API reports the audits of the "
        "same periods, so nubis-api and the compute hosts must agree on it.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {"DEFAULT": OPTS}
