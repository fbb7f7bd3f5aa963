"""The periodic tasks of nubis-conductor (namespace ``nubis.periodic_tasks``).

The default of ``[conductor] periodic_tasks``:

* :mod:`.reconcile` -- ``reconcile_builds``: requests the API accepted that made no
  progress (a build request lost with a broker restart, a conductor that died while
  scheduling, a build stuck on a host) are sent again once, idempotently, or ended in
  ERROR with a fault naming the cause.

Written on the core objects and RPC APIs only (a plugin never imports a sibling).
"""

from __future__ import annotations

from nubis.plugins.periodic_tasks.conductor.reconcile import reconcile_builds

__all__ = ["reconcile_builds"]
