"""Options every service group ([compute], [conductor], [scheduler]) has."""

from oslo_config import cfg


def service_group_opts(service: str, topic: str, periodic_tasks: list[str]) -> list[cfg.Opt]:
    """Return the ``manager``, ``topic`` and ``periodic_tasks`` options of one service."""
    return [
        cfg.StrOpt(
            "manager",
            default=service,
            help=f"Name of the manager plugin (namespace nubis.managers) that nubis-{service} "
            "runs.",
        ),
        cfg.StrOpt(
            "topic",
            default=topic,
            help=f"Message bus topic nubis-{service} listens on.",
        ),
        cfg.ListOpt(
            "periodic_tasks",
            default=periodic_tasks,
            help=f"Names of the periodic task plugins (namespace nubis.periodic_tasks) "
            f"nubis-{service} runs, in addition to the ones its manager defines itself.",
        ),
    ]
