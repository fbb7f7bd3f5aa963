"""Targets: the ways the kit runs one plugin (configuration and environment).

A :class:`Target` is one configuration of one plugin under test; the suites run every
test once per target. By default a plugin has one target named after it, configured by
the kit's ``--nubis-config-file``; an environment (a conftest.py or pytest plugin)
returns its own list from the ``pytest_nubis_conformance_targets`` hook (see
:mod:`nubis.core.conformance.hookspecs`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

#: ``{group: {option: value}}``; the group ``DEFAULT`` (or None) is the default group.
Options = Mapping[str | None, Mapping[str, Any]]
OptionsSource = Options | Callable[[Any], Options] | None


@dataclasses.dataclass(frozen=True)
class Target:
    """One way of running a plugin under the suite of its namespace.

    ``id`` names the target in test ids and reports (e.g. ``libvirt-qemu``).
    ``options`` configures the plugin: ``{group: {option: value}}`` or a callable
    ``(request) -> that`` (called during the test's setup; it may use fixtures through
    ``request.getfixturevalue`` and register finalizers). ``extras`` holds what the
    namespace's suite documents (e.g. virt ``peer_options``); unknown keys are an
    error. ``marks`` are pytest marks added to every test of the target.
    """

    id: str
    options: OptionsSource = None
    extras: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    marks: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id or any(c in self.id for c in "[]/ "):
            raise ValueError(
                f"Target id must be a non-empty str without '[', ']', '/' or spaces, "
                f"got {self.id!r}"
            )

    def resolve_options(self, request: Any) -> dict[str, dict[str, Any]]:
        """Return the options as a plain ``{group: {option: value}}`` dict."""
        source = self.options(request) if callable(self.options) else self.options
        return normalize(source or {})

    def extra(self, name: str, default: Any = None) -> Any:
        """Return extra *name* (see the suite's docstring for what each means)."""
        return self.extras.get(name, default)


def normalize(options: Options) -> dict[str, dict[str, Any]]:
    """Copy *options* with the default group spelled ``DEFAULT``."""
    result: dict[str, dict[str, Any]] = {}
    for group, values in options.items():
        result.setdefault(group or "DEFAULT", {}).update(values)
    return result


def read_config_file(path: str) -> dict[str, dict[str, Any]]:
    """Return the options an oslo.config file sets, as ``{group: {option: str value}}``.

    Values stay strings (a multi-valued option: a list of strings); oslo.config converts
    them to each option's type when they are applied. Raises ValueError with the
    file's name for a file that cannot be read or parsed.
    """
    from oslo_config import cfg

    sections: dict[str, dict[str, list[str]]] = {}
    try:
        cfg.ConfigParser(path, sections).parse()
    except (OSError, cfg.ParseError) as exc:
        raise ValueError(f"cannot read config file {path}: {exc}") from None
    result: dict[str, dict[str, Any]] = {}
    for group, values in sections.items():
        for name, value in values.items():
            result.setdefault(group, {})[name] = value[0] if len(value) == 1 else value
    return result


def apply(
    conf: Any, options: Options, hint: str = "", skip_unknown_groups: bool = False
) -> list[tuple[str, str | None]]:
    """Override *options* on oslo.config *conf*; return the (name, group) pairs set.

    An option that is not registered raises ValueError naming it (and *hint*, which
    says how to get it registered). With *skip_unknown_groups* (a config file written
    for a whole deployment), groups *conf* does not have are left out; an unknown
    option of a known group is still an error.
    """
    from oslo_config import cfg

    done: list[tuple[str, str | None]] = []
    for group, values in normalize(options).items():
        grp = None if group == "DEFAULT" else group
        if skip_unknown_groups and grp is not None and grp not in conf:
            continue
        for name, value in values.items():
            problem = None
            try:
                conf.set_override(name, value, group=grp)
            except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
                problem = f"option [{group}] {name} is not registered{'; ' + hint if hint else ''}"
            except ValueError as exc:
                problem = f"option [{group}] {name} = {value!r}: {exc}"
            if problem is not None:
                for done_name, done_group in reversed(done):  # all or nothing
                    conf.clear_override(done_name, group=done_group)
                raise ValueError(problem)
            done.append((name, grp))
    return done
