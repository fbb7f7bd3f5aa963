"""nubis configuration: every option nubis core owns, registered on the global CONF.

Each module in this package owns one option group and exposes ``register_opts(conf)``
and ``list_opts()``; :mod:`nubis.core.conf.opts` gathers them for
oslo-config-generator. oslo.messaging registers some of its own groups only on the
global ``cfg.CONF``, so nubis uses that object too.
"""

from oslo_config import cfg

from nubis.core.conf import (
    all_in_one,
    api,
    database,
    healthcheck,
    indirection,
    memcache,
    metrics,
    quota,
    scheduler,
    service,
    servicegroup,
    upgrade_levels,
    usage_audit,
    zookeeper,
)
from nubis.core.conf import compute as compute_conf
from nubis.core.conf import conductor as conductor_conf

CONF = cfg.CONF

_MODULES = (
    service,
    compute_conf,
    conductor_conf,
    scheduler,
    servicegroup,
    indirection,
    upgrade_levels,
    database,
    all_in_one,
    zookeeper,
    memcache,
    api,
    metrics,
    healthcheck,
    quota,
    usage_audit,
)

for _module in _MODULES:
    _module.register_opts(CONF)
