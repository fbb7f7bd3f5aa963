"""``compute``: the compute manager plugin (namespace ``nubis.managers``).

:class:`~.manager.ComputeManager` is nubis-compute's RPC endpoint; the package also holds
its resource tracker (:mod:`.resource_tracker`), the periodic work the
``nubis.periodic_tasks`` compute plugins drive (:mod:`.tasks`) and its locks
(:mod:`.locks`).
"""
