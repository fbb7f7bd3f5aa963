"""``conductor``: the DB conductor and the long-running compute tasks.

:mod:`.manager` is the manager plugin (the remote object model); :mod:`.compute_task`
is its second RPC endpoint, the ``compute_task`` API (build, live migration), with the
live-migration checks in :mod:`.live_migrate`.
"""
