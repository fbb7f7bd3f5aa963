"""``scheduler``: the manager of nubis-scheduler (:mod:`.manager`) and how it chooses
nodes (:mod:`.host_index`)."""

from nubis.plugins.managers.scheduler.manager import SchedulerManager

__all__ = ["SchedulerManager"]
