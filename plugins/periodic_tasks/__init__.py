"""Periodic task plugins (namespace ``nubis.periodic_tasks``), one module per service."""
