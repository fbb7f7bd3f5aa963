"""The Manager: the object a service runs and the RPC endpoint of that service.

"Smart managers, dumb data": a manager owns one aspect of the system. Its public
methods that an rpcapi client calls are its RPC surface; their names match that
client's methods one to one, and ``target`` states the RPC version it serves. Anything
that runs shell commands or talks to a hypervisor belongs in a driver, not here.

The service calls the hooks in this order: :meth:`init_host` → (service record) →
:meth:`pre_start_hook` → (RPC server consuming) → :meth:`post_start_hook`; on stop,
:meth:`cleanup_host`; on SIGHUP, :meth:`reset`.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, ClassVar

import oslo_messaging as messaging
from oslo_config import cfg

from nubis.core import periodic, plugins
from nubis.core.context import get_admin_context

LOG = logging.getLogger(__name__)


class Manager:
    """Base class of every manager plugin (namespace ``nubis.managers``).

    A subclass sets :attr:`target` (its RPC API version) and :attr:`service_name`
    (the ``[<service>]`` option group it reads: ``compute``, ``conductor``, ...), and
    may serve more RPC APIs through :attr:`additional_endpoints`.
    """

    target: ClassVar[messaging.Target] = messaging.Target(version="1.0")
    service_name: ClassVar[str] = ""

    def __init__(self, host: str, conf: cfg.ConfigOpts | None = None) -> None:
        self.host = host
        self.conf = conf or cfg.CONF
        self.service: Any = None  # set by Service when it adopts the manager
        #: More RPC endpoints the service serves beside the manager, each with a
        #: ``target`` naming its own namespace and version (e.g. the conductor's
        #: ``compute_task`` API).
        self.additional_endpoints: list[Any] = []

    # --- lifecycle hooks -------------------------------------------------------------

    def init_host(self) -> None:
        """Prepare this host before the service record or RPC exists (e.g. drivers)."""

    def pre_start_hook(self) -> None:
        """Run after the service record exists and before RPC consumption starts."""

    def post_start_hook(self) -> None:
        """Run after the RPC server consumes messages."""

    def cleanup_host(self) -> None:
        """Release what init_host took; in-flight calls have finished."""

    def reset(self) -> None:
        """Re-read mutable configuration and drop cached state (SIGHUP)."""

    # --- periodic tasks --------------------------------------------------------------

    def periodic_tasks(self) -> list[tuple[periodic.TaskSpec, Callable[[], Any]]]:
        """Return this manager's periodic tasks: its own decorated methods, then the
        plugins named by ``[<service_name>] periodic_tasks``, each bound to a fresh
        admin context at every run."""
        tasks: list[tuple[periodic.TaskSpec, Callable[[], Any]]] = []
        for _, member in inspect.getmembers(type(self), callable):
            spec = periodic.spec_of(member)
            if spec is not None:
                tasks.append(
                    (spec, functools.partial(_run_own_task, getattr(self, member.__name__)))
                )
        for plugin in self._task_plugins():
            spec = periodic.spec_of(plugin)
            assert spec is not None  # guaranteed by the namespace contract check
            tasks.append((spec, functools.partial(_run_plugin_task, plugin, self)))
        return tasks

    def _task_plugins(self) -> list[Any]:
        if not self.service_name:
            return []
        group = getattr(self.conf, self.service_name)
        return plugins.load_many(
            "nubis.periodic_tasks",
            group.periodic_tasks,
            f"[{self.service_name}] periodic_tasks",
        )


def _run_own_task(method: Callable[[Any], Any]) -> Any:
    return method(get_admin_context())


def _run_plugin_task(task: Callable[[Any, Any], Any], manager: Manager) -> Any:
    return task(manager, get_admin_context())
