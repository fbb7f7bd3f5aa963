"""Capability tables of the namespaces whose interface module has none of its own.

A namespace's table lists every optional ability a plugin of it may declare in its
``capabilities`` attribute; :mod:`nubis.core.plugins` rejects any other name when the
plugin is loaded (the ``capabilities`` field of :class:`nubis.core.plugins.Namespace`
points here or at the interface's own table, e.g. virt's
:data:`nubis.core.virt.driver.CAPABILITIES`). The conformance suites mark the tests of a
capability with ``@pytest.mark.nubis_capability(name)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nubis.core import plugins

#: ``nubis.servicegroup``: what declaring each capability promises.
SERVICEGROUP: Mapping[str, str] = {
    "reports_through_conductor": (
        "state reports are saved in the member's service record (through the indirection "
        "API on nubis-compute), so the driver needs no server of its own and the record's "
        "report_count grows while the member is joined"
    ),
}

#: The pseudo-capability of the tests every plugin must pass.
CORE = "core"


def known(namespace: str) -> dict[str, str]:
    """Return the capability names plugins of *namespace* may declare (name -> promise)."""
    return plugins.known_capabilities(plugins.namespace(namespace))


def declared(plugin: Any) -> dict[str, bool]:
    """Return the capabilities *plugin* (a class or function) declares, as a plain dict."""
    caps = getattr(plugin, "capabilities", None) or {}
    if not isinstance(caps, Mapping):
        return {}
    return {str(name): bool(value) for name, value in caps.items()}


def withdrawn(plugin: Any, instance: Any) -> list[str]:
    """Return the capabilities *plugin*'s class declares that *instance* withdrew."""
    own = declared(instance) if instance is not None else {}
    return sorted(
        name for name, value in declared(plugin).items() if value and not own.get(name, False)
    )
