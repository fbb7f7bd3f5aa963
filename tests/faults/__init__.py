"""Fault injection: a multi-process nubis on private RabbitMQ, PostgreSQL and ZooKeeper
instances, whose servers the tests stop and start (never the machine's shared ones)."""
