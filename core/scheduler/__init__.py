"""Scheduling contracts: the host view, the filter and weigher interfaces.

The scheduler manager (a plugin in ``nubis.managers``) keeps a :class:`HostState` per
compute node, runs the filter plugins of ``[scheduler] enabled_filters`` over them,
orders the survivors with the weigher plugins of ``[scheduler] weighers`` and returns
the best. Filters live in ``nubis.scheduler.filters``, weighers in
``nubis.scheduler.weighers``.
"""
