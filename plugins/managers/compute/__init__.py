"""``compute``: the compute manager plugin (namespace ``nubis.managers``).

:class:`~.manager.ComputeManager` is nubis-compute's RPC endpoint and the
:class:`~nubis.core.compute.host.ComputeHost` its periodic tasks use. It composes, one
module per concern: the bookkeeping around operations (:mod:`.operations`), the
instance lifecycle (:mod:`.lifecycle`), live migration as the source
(:mod:`.live_migration`) and as the destination (:mod:`.live_migration_dest`), the
resource tracker of each node (:mod:`.nodes`, :mod:`.resource_tracker`,
:mod:`.claims`) and its locks (:mod:`.locks`).
"""
