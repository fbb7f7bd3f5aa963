"""Versioned objects: the data that crosses the message bus.

Importing :func:`register_all` registers every nubis object class. Object modules are
imported lazily by it so that a process pays only for what it uses.
"""

import importlib

_OBJECT_MODULES: tuple[str, ...] = (
    "aggregate",
    "compute_node",
    "flavor",
    "image",
    "instance",
    "instance_action",
    "instance_fault",
    "instance_group",
    "migration",
    "quotas",
    "request_spec",
    "service",
    "task_log",
)


def register_all() -> None:
    """Import every object module so their classes are registered."""
    for module in _OBJECT_MODULES:
        importlib.import_module(f"nubis.core.objects.{module}")
