"""Suite of ``nubis.scheduler.filters``: the BaseHostFilter contract.

Generic over synthetic inputs (:mod:`..scheduler_common`), so it holds for any filter:
every answer is a bool, inputs are never changed, answers repeat, ``filter_all``
agrees with ``host_passes`` host by host, concurrent callers get the same answers,
and no call blocks. The filter is built as ``Filter(conf)`` with nubis's global CONF
carrying the target's options. No extras.
"""
