"""The start-up check warns when RabbitMQ's RPC queues would not survive a restart."""

import logging

from nubis.core.conf import CONF, durability


def _warnings(caplog):
    return [r for r in caplog.records if "amqp_durable_queues" in r.getMessage()]


def test_non_durable_rabbit_queues_are_warned_about(flags, caplog):
    caplog.set_level(logging.WARNING)
    flags(transport_url="rabbit://guest:guest@127.0.0.1:5672/")
    assert durability.durable_messaging_problems(CONF) == []
    assert len(_warnings(caplog)) == 1


def test_durable_or_quorum_queues_pass_quietly(flags, caplog):
    caplog.set_level(logging.WARNING)
    flags(transport_url="rabbit://guest:guest@127.0.0.1:5672/")
    durability.durable_messaging_problems(CONF)  # registers the options
    caplog.clear()
    flags(group="oslo_messaging_rabbit", amqp_durable_queues=True)
    durability.durable_messaging_problems(CONF)
    assert _warnings(caplog) == []


def test_other_transports_are_not_checked(flags, caplog):
    caplog.set_level(logging.WARNING)
    flags(transport_url="inproc://")
    durability.durable_messaging_problems(CONF)
    assert _warnings(caplog) == []
