"""``nubis-manage plugins``: what is installed, and a new plugin package.

* ``plugins list [--namespace NS]`` -- every namespace and every installed plugin of
  it: distribution and version, entry point, and whether it loads and keeps its
  namespace's contract. Exit 1 when any plugin does not (a plugin that does not import
  is named with its distribution, entry point and module); the owner's own plugins
  of a namespace nubis does not own (oslo.messaging's drivers, whose optional
  libraries may be missing) are shown but not counted.
* ``plugins new NAMESPACE NAME [--dist DIST] [--dir DIR]`` -- write a complete plugin
  package for NAMESPACE (:mod:`nubis.core.conformance.scaffold`): an implementation
  that passes the conformance kit where one can be generic, a skeleton the kit fails
  naming what to write where it cannot (virt, managers, transports).

The scaffold is a ``nubis-manage plugins`` command, beside ``list``, rather than a
``nubis-conformance`` one: it works from the same namespace table, needs nothing the
kit needs (pytest), and keeps ``nubis-conformance``'s exit status a verdict and
nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nubis.core import exception, plugins
from nubis.core.conf import CONF


def _verdict(row: plugins.InstalledPlugin, ns: plugins.Namespace) -> tuple[str, bool]:
    """(what to show, whether it counts as a failure)."""
    if row.import_error:
        if ns.foreign(row.distribution):
            return (
                f"not loadable ({row.distribution}'s own, not counted): {row.import_error}",
                False,
            )
        return f"DOES NOT LOAD: {row.import_error}", True
    if row.problems:
        return "FAILS CONTRACT: " + "; ".join(row.problems), True
    return "ok", False


def plugins_list() -> int:
    wanted = [CONF.category.namespace] if CONF.category.namespace else None
    if wanted:
        plugins.namespace(wanted[0])  # unknown namespace: one-line error
    found = plugins.inventory(wanted)
    rows = [(p, f"{p.distribution} {p.version}") for p in found]
    name_width = max((len(p.name) for p, _ in rows), default=0)
    dist_width = max((len(d) for _, d in rows), default=0)
    target_width = max((len(p.target) for p, _ in rows), default=0)
    failures: list[str] = []
    for ns in plugins.NAMESPACES:
        if wanted and ns.name not in wanted:
            continue
        print(f"{ns.name}  ({ns.description}; chosen by {ns.option})")
        mine = [(p, d) for p, d in rows if p.namespace == ns.name]
        if not mine:
            print("    (no plugins installed)")
        for p, dist in mine:
            verdict, failed = _verdict(p, ns)
            if failed:
                failures.append(f"{ns.name}:{p.name}")
            print(
                f"    {p.name:<{name_width}}  {dist:<{dist_width}}  "
                f"{p.target:<{target_width}}  {verdict}"
            )
    if failures:
        print(f"{len(failures)} plugin(s) failing: {', '.join(failures)}")
        return 1
    return 0


def plugins_new() -> int:
    from nubis.core.conformance import scaffold

    args = CONF.category
    namespace, name = args.new_namespace, args.new_name
    try:
        package = scaffold.files(namespace, name, args.dist)
    except scaffold.ScaffoldError as exc:
        raise exception.NubisException(str(exc)) from None
    if name in plugins.available(package.namespace):
        ep = plugins.entry_point(package.namespace, name)
        dist, version = plugins.distribution_of(ep)
        raise exception.NubisException(
            f"a plugin {name!r} is already installed in {package.namespace} ({dist} "
            f"{version}); choose another name: two plugins of one name cannot be told apart"
        )
    directory = Path(args.dir or package.dist)
    try:
        written = scaffold.write(package, directory)
    except (scaffold.ScaffoldError, OSError) as exc:
        raise exception.NubisException(str(exc)) from None
    kind = package.kind
    print(
        f"wrote {directory}/: {package.namespace}:{name}, a {kind.what}, distribution "
        f"{package.dist} (import name {package.module})"
    )
    for path in written:
        print(f"    {os.path.relpath(path, directory)}")
    if kind.skeleton:
        print(
            "a SKELETON: it installs and loads, and the conformance kit fails it naming "
            "what to write"
        )
    print("next:")
    print(f"    pip install -e '{directory}[test]'")
    print(f"    nubis-conformance --namespace {package.namespace} --plugin {name}")
    return 0


def add_parsers(subparsers: Any) -> None:
    parser = subparsers.add_parser("plugins", help="inspect installed plugins, start a new one")
    sub = parser.add_subparsers(dest="action", required=True)
    listing = sub.add_parser("list", help="list namespaces and their plugins")
    listing.add_argument("--namespace", help="only this namespace, e.g. nubis.virt")
    listing.set_defaults(func=plugins_list)
    new = sub.add_parser(
        "new",
        help="write a new plugin package that the conformance kit runs",
        description="Write a complete out-of-tree plugin package: pyproject.toml with "
        "its entry points, the plugin, its options, its conformance environment, a "
        "README and a test running the kit.",
    )
    new.add_argument(
        "new_namespace",
        metavar="NAMESPACE",
        choices=[ns.name for ns in plugins.NAMESPACES],
        help="the plugin's namespace: " + ", ".join(ns.name for ns in plugins.NAMESPACES),
    )
    new.add_argument("new_name", metavar="NAME", help="the plugin's name (its entry point)")
    new.add_argument("--dist", help="distribution name (default nubis-<kind>-<name>)")
    new.add_argument("--dir", help="where to write it (default ./<distribution>)")
    new.set_defaults(func=plugins_new)
