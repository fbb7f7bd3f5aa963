"""Suite of ``nubis.scheduler.weighers``: the BaseHostWeigher contract.

Generic over synthetic inputs (:mod:`..scheduler_common`): every weight is a finite
real number, inputs are never changed, weights repeat, concurrent callers get the same
weights, the multiplier is a finite number, and normalising the weights of any
population works. Built as ``Weigher(conf)`` with nubis's global CONF carrying the
target's options. No extras.
"""
