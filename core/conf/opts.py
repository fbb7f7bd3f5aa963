"""Option discovery for oslo-config-generator (entry point ``oslo.config.opts: nubis``)."""

from oslo_config import cfg

from nubis.core.conf import _MODULES


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """Return every nubis core option as (group name, options) pairs."""
    merged: dict[str, list[cfg.Opt]] = {}
    for module in _MODULES:
        for group, opts in module.list_opts().items():
            merged.setdefault(group, []).extend(opts)
    return sorted(merged.items())
