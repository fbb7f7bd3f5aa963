"""Which deprecated options the configuration files set.

oslo.config logs a deprecation warning when a service first reads an option that is
set under a deprecated name or is deprecated for removal; :func:`find` reports the
same cases up front, for ``nubis-status upgrade check``, without reading any value.

Contract:

* The options looked at are those the sample configuration documents: every
  ``oslo.config.opts`` entry point named ``nubis`` or ``nubis.<something>`` (nubis and
  every installed nubis plugin, contrib ones included) and the libraries' namespaces
  in :data:`LIBRARY_NAMESPACES` that are installed.
* The files looked at are the ones the parsed configuration read: ``--config-file``
  (or oslo.config's default files) and the ``*.conf`` files of ``--config-dir`` (the
  last one given: oslo.config keeps only that one).
* A key matches an option as oslo.config matches it: the option's ``dest`` or one of
  its deprecated names, in its group or a deprecated group (group names compared
  case-insensitively, ``DEFAULT`` as is).
* :func:`find` never raises for a namespace that cannot list its options or a file that
  cannot be parsed: each is one line in :attr:`Report.problems`.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any

from oslo_config import cfg

from nubis.core import exception

#: Libraries whose options nubis registers on its configuration; the same namespaces
#: as etc/nubis/nubis-config-generator.conf (a test keeps the two in step).
LIBRARY_NAMESPACES = (
    "keystonemiddleware.auth_token",
    "oslo.log",
    "oslo.messaging",
    "oslo.policy",
)

_ENTRY_POINT_GROUP = "oslo.config.opts"

#: ``(group name, option)`` pairs; the group name is ``DEFAULT`` for ungrouped options.
GroupedOpts = list[tuple[str, cfg.Opt]]


@dataclasses.dataclass(frozen=True, order=True)
class Finding:
    """One deprecated option set in one configuration file."""

    path: str
    group: str
    name: str
    advice: str

    def __str__(self) -> str:
        return f"[{self.group}] {self.name} in {self.path} {self.advice}"


@dataclasses.dataclass(frozen=True)
class Report:
    """What :func:`find` found: deprecated options set, and what it could not read."""

    findings: tuple[Finding, ...]
    problems: tuple[str, ...]
    files: tuple[str, ...]


def namespaces() -> list[str]:
    """The ``oslo.config.opts`` namespaces whose options :func:`find` looks at."""
    installed = {ep.name for ep in metadata.entry_points(group=_ENTRY_POINT_GROUP)}
    own = {name for name in installed if name == "nubis" or name.startswith("nubis.")}
    return sorted(own | (installed & set(LIBRARY_NAMESPACES)))


def documented_options(names: Iterable[str]) -> tuple[GroupedOpts, list[str]]:
    """Return the options of the namespaces *names* and one line per namespace that
    could not list them (not installed, import error, list_opts raising)."""
    entry_points = {ep.name: ep for ep in metadata.entry_points(group=_ENTRY_POINT_GROUP)}
    found: GroupedOpts = []
    problems: list[str] = []
    for name in names:
        entry_point = entry_points.get(name)
        if entry_point is None:
            problems.append(f"no {_ENTRY_POINT_GROUP} entry point {name!r} is installed")
            continue
        try:
            list_opts: Callable[[], Any] = entry_point.load()
            for group, opts in list_opts():
                found.extend((_group_name(group), opt) for opt in opts)
        except Exception as exc:
            problems.append(
                f"cannot list the options of {name} ({entry_point.value}): "
                f"{exception.one_line(exc)}"
            )
    return found, problems


def config_files(conf: cfg.ConfigOpts) -> list[str]:
    """The configuration files *conf* was parsed from, in the order it read them."""
    files = [str(path) for path in conf.config_file or []]
    for directory in conf.config_dir or []:
        files.extend(sorted(glob.glob(os.path.join(os.path.expanduser(directory), "*.conf"))))
    return files


def find(conf: cfg.ConfigOpts, options: GroupedOpts | None = None) -> Report:
    """Return the deprecated options set in *conf*'s configuration files.

    *options* are the ``(group name, option)`` pairs to look for (default: those of
    :func:`namespaces`, whose listing problems are part of the report).
    """
    if options is None:
        opts, problems = documented_options(namespaces())
    else:
        opts, problems = options, []
    files = config_files(conf)
    findings: set[Finding] = set()
    for path in files:
        try:
            sections = _parse(path)
        except (OSError, UnicodeDecodeError, cfg.ParseError) as exc:
            problems.append(f"cannot parse {path}: {exception.one_line(exc)}")
            continue
        for group, opt in opts:
            findings.update(_findings(path, sections, group, opt))
    return Report(tuple(sorted(findings)), tuple(problems), tuple(files))


def _findings(
    path: str, sections: dict[str, dict[str, Any]], group: str, opt: cfg.Opt
) -> list[Finding]:
    current = (group, opt.dest)
    deprecated = [
        (_normalize(d.group) if d.group else group, d.name or opt.dest)
        for d in opt.deprecated_opts
        if d.name or d.group
    ]
    found: list[Finding] = []
    for key in deprecated:
        if key != current and key[1] in sections.get(_normalize(key[0]), {}):
            found.append(Finding(path, key[0], key[1], f"is a deprecated name of {_show(current)}"))
    if opt.deprecated_for_removal:
        for key in (current, *deprecated):
            if key[1] in sections.get(_normalize(key[0]), {}):
                reason = " ".join((opt.deprecated_reason or "").split())
                advice = "is deprecated for removal" + (f" ({reason})" if reason else "")
                found.append(Finding(path, key[0], key[1], advice))
    return found


def _parse(path: str) -> dict[str, dict[str, Any]]:
    """``{normalized section: {key: [values]}}`` of one file, parsed as oslo.config does."""
    sections: dict[str, dict[str, Any]] = {}
    cfg.ConfigParser(path, sections).parse()
    normalized: dict[str, dict[str, Any]] = {}
    for section, keys in sections.items():
        normalized.setdefault(_normalize(section), {}).update(keys)
    return normalized


def _group_name(group: str | cfg.OptGroup | None) -> str:
    if group is None:
        return "DEFAULT"
    name = group.name if isinstance(group, cfg.OptGroup) else str(group)
    return _normalize(name)


def _normalize(group: str) -> str:
    return group if group == "DEFAULT" else group.lower()


def _show(key: tuple[str, str]) -> str:
    return f"[{key[0]}] {key[1]}"
