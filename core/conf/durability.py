"""Whether the RPC topics survive a broker restart (part of the start-up check).

With RabbitMQ, oslo.messaging declares its queues non-durable unless
``[oslo_messaging_rabbit] amqp_durable_queues`` (classic durable queues) or
``rabbit_quorum_queue`` (replicated quorum queues) is set. A non-durable queue
vanishes with a broker restart, and a cast published after the broker returns but
before the consumers declared their queues again is unroutable and silently dropped.
The check logs one warning naming the options when neither is set (it does not refuse
to start: a test or a throw-away deployment may not care); the ready configs in
``etc/nubis/deployment/`` set ``amqp_durable_queues = true`` (docs/deployment.md,
"Durable messaging and outages").
"""

from __future__ import annotations

import logging

from oslo_config import cfg

LOG = logging.getLogger(__name__)

RABBIT_GROUP = "oslo_messaging_rabbit"


def durable_messaging_problems(conf: cfg.ConfigOpts) -> list[str]:
    """Log a warning when a ``rabbit://`` transport's queues would not survive a broker
    restart; return no problem (it is advice, not an error)."""
    url = str(conf.transport_url or "")
    if not url.split("://", 1)[0].split("+")[-1].startswith("rabbit"):
        return []
    try:
        from oslo_messaging._drivers import amqp, impl_rabbit

        conf.register_opts(impl_rabbit.rabbit_opts, group=RABBIT_GROUP)
        conf.register_opts(amqp.amqp_opts, group=RABBIT_GROUP)
        group = getattr(conf, RABBIT_GROUP)
        durable = bool(group.amqp_durable_queues) or bool(group.rabbit_quorum_queue)
    except Exception as exc:  # an oslo.messaging without these options: say nothing
        LOG.debug("cannot read [%s]: %s", RABBIT_GROUP, exc)
        return []
    if not durable:
        LOG.warning(
            "[%s] amqp_durable_queues and rabbit_quorum_queue are both off: the RPC queues "
            "do not survive a RabbitMQ restart, and requests sent while the services "
            "re-declare them are lost; set one of them (docs/deployment.md)",
            RABBIT_GROUP,
        )
    return []
