"""The plugin scaffold: a complete out-of-tree plugin package for any namespace.

``nubis-manage plugins new NAMESPACE NAME`` (:mod:`nubis.core.cmd.manage_plugins`)
writes what :func:`files` returns: a ``pyproject.toml`` with the plugin's entry point,
its options under ``oslo.config.opts`` and its conformance environment under
``nubis.conformance.environments``; the plugin; its options (``conf.py``); the
environment (``conformance.py``, how the kit runs it); a README; and
``tests/test_conformance.py``, which runs the kit from the package's own ``pytest``.

Where a namespace allows a plugin that is small, generic and honest, the package holds
one that passes the kit as written (a filter, a weigher, a periodic task, a
membership driver on a shared directory, an in-process indirection, a static-token
API auth plugin). Where it does not -- a hypervisor driver, a manager, a message
transport -- it holds a *skeleton*: every method of the contract, with the
signature the contract checks, raising ``NotImplementedError`` (or absent, for a
manager's RPC methods), so that the kit fails it and names, method by method, what
is left to write.

docs/plugin-author-guide.md shows this module's output for every namespace; a test
keeps the two the same.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import inspect
import keyword
import re
import string
import textwrap
from pathlib import Path

from nubis.core import plugins
from nubis.core.conformance.scaffold import environment_templates as envs
from nubis.core.conformance.scaffold import plugin_templates as tpl


@dataclasses.dataclass(frozen=True)
class Kind:
    """What the scaffold writes for one namespace."""

    namespace: str
    #: Short name, in the default distribution name (``nubis-<slug>-<name>``).
    slug: str
    #: What the plugin is, in words.
    what: str
    #: The plugin's module in the package, and the class name suffix (or "" for a
    #: function plugin, whose function is named after the plugin).
    module: str
    suffix: str
    #: Whether the package holds a skeleton that fails the kit until it is written.
    skeleton: bool
    implementation: str
    options: str
    environment: str
    own_tests: str = ""
    readme: str = ""


_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SCHEME = re.compile(r"[a-z][a-z0-9]*")
_DIST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


class ScaffoldError(ValueError):
    """The scaffold cannot write what was asked (one line saying why)."""


def _kinds() -> dict[str, Kind]:
    return {
        k.namespace: k
        for k in (
            Kind(
                "nubis.scheduler.filters",
                "filter",
                "scheduler filter",
                "filter",
                "Filter",
                False,
                tpl.FILTER,
                tpl.FILTER_OPTS,
                envs.ENV_PLAIN,
            ),
            Kind(
                "nubis.scheduler.weighers",
                "weigher",
                "scheduler weigher",
                "weigher",
                "Weigher",
                False,
                tpl.WEIGHER,
                tpl.WEIGHER_OPTS,
                envs.ENV_PLAIN,
            ),
            Kind(
                "nubis.periodic_tasks",
                "periodic",
                "compute periodic task",
                "task",
                "",
                False,
                tpl.PERIODIC,
                tpl.PERIODIC_OPTS,
                envs.ENV_PERIODIC,
            ),
            Kind(
                "nubis.servicegroup",
                "servicegroup",
                "membership (servicegroup) driver",
                "driver",
                "Driver",
                False,
                tpl.SERVICEGROUP,
                tpl.SERVICEGROUP_OPTS,
                envs.ENV_SERVICEGROUP,
            ),
            Kind(
                "nubis.indirection",
                "indirection",
                "indirection API",
                "indirection",
                "Indirection",
                False,
                tpl.INDIRECTION,
                tpl.INDIRECTION_OPTS,
                envs.ENV_PLAIN,
            ),
            Kind(
                "nubis.api.auth",
                "auth",
                "nubis-api authentication plugin",
                "auth",
                "Auth",
                False,
                tpl.AUTH,
                tpl.AUTH_OPTS,
                envs.ENV_PLAIN,
                own_tests=tpl.AUTH_TESTS,
            ),
            Kind(
                "nubis.managers",
                "manager",
                "service manager",
                "manager",
                "Manager",
                True,
                tpl.MANAGER,
                tpl.NO_OPTS,
                envs.ENV_PLAIN,
            ),
            Kind(
                "nubis.virt",
                "virt",
                "hypervisor (virt) driver",
                "driver",
                "Driver",
                True,
                tpl.VIRT,
                tpl.VIRT_OPTS,
                envs.ENV_VIRT,
            ),
            Kind(
                "oslo.messaging.drivers",
                "transport",
                "message transport",
                "driver",
                "Driver",
                True,
                tpl.TRANSPORT,
                tpl.TRANSPORT_OPTS,
                envs.ENV_TRANSPORT,
            ),
        )
    }


# fmt: on


KINDS = _kinds()

# --------------------------------------------------------------------------- the package

_PYPROJECT = """\
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "A nubis $what: $name"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["nubis>=$nubis_version"]

[project.optional-dependencies]
# The conformance kit runs in pytest.
test = ["nubis[conformance]", "pytest>=8"]

# The plugin: a deployment chooses it by this name.
[project.entry-points."$namespace"]
$name = "$module.$impl:$attr"

# Its options, under <namespace>.<plugin>: the kit and oslo-config-generator find them.
[project.entry-points."oslo.config.opts"]
"$namespace.$name" = "$module.conf:list_opts"

# How the conformance kit runs it: loaded by the kit, only when the kit runs.
[project.entry-points."nubis.conformance.environments"]
$module = "$module.conformance"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

_INIT = '''\
"""A nubis $what: $name ($namespace)."""
'''

_CONF = '''\
"""The [$group] options of the $name plugin."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "$group"

$opts

def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the options on *conf* (again: harmless)."""
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The options, for oslo-config-generator and the conformance kit."""
    return [(GROUP, list(OPTS))]
'''

_TESTS = '''\
"""The conformance kit against this package's plugin, from this package's ``pytest``.

The kit's pytest plugin (installed with nubis) attaches the suite of the plugin's
namespace below this module; the plugin's own tests go beside it.
"""

#: Read by the kit: run the suite of $namespace against plugin $name.
NUBIS_CONFORMANCE = ["$namespace:$name"]
'''

_README = """\
# $dist

A nubis $what, `$name` in the namespace `$namespace`, packaged as its own
distribution. Written by `nubis-manage plugins new $namespace $name`.
$status
## Files

* `src/$module/$impl.py` -- the plugin.
* `src/$module/conf.py` -- its options, group `[$group]` (entry point `oslo.config.opts`
  `$namespace.$name`).
* `src/$module/conformance.py` -- how the conformance kit runs it (entry point group
  `nubis.conformance.environments`).
* `tests/test_conformance.py` -- runs the kit from this package's `pytest`.

## Install, check, run the kit

```sh
pip install -e '.[test]'
nubis-manage plugins list --namespace $namespace     # $name ... ok
nubis-conformance --namespace $namespace --plugin $name
pytest                                              # the same suite, and your own tests
```

`nubis-conformance` exits 0 only when every test passed (or was waived) and every
capability the plugin declares was exercised; `incomplete` fails too, saying which
test did not run and which `Target` extra would run it.

## Use it

$usage

The plugin-author guide (docs/plugin-author-guide.md in nubis) explains the contract,
capabilities, waivers and the kit.
"""

_USAGE = {
    "nubis.scheduler.filters": "```ini\n[scheduler]\nenabled_filters = compute,ram,$name\n```",
    "nubis.scheduler.weighers": "```ini\n[scheduler]\nweighers = ram,$name\n```",
    "nubis.periodic_tasks": (
        "```ini\n[compute]\nperiodic_tasks = update_available_resource,sync_power_states,"
        "reap_orphans,$name\n```"
    ),
    "nubis.servicegroup": (
        "```ini\n[servicegroup]\ndriver = $name\n\n[$group]\ndirectory = /srv/nubis/membership\n```"
    ),
    "nubis.indirection": "```ini\n[indirection]\napi = $name\n```",
    "nubis.api.auth": "```ini\n[api]\nauth_strategy = $name\n\n[$group]\ntoken = ...\n```",
    "nubis.managers": "```ini\n[$service]\nmanager = $name\n```",
    "nubis.virt": "```ini\n[compute]\nvirt_driver = $name\n```",
    "oslo.messaging.drivers": "```ini\n[DEFAULT]\ntransport_url = $name://broker.example:1234/\n```",
}

_SKELETON_STATUS = """
**A skeleton.** A $what cannot be written generically: the package installs and loads,
but the conformance kit fails it and names what to write ($todo). Write it until
`nubis-conformance` passes.
"""

_HONEST_STATUS = """
It works as written and passes the conformance kit; make it yours from there.
"""

_TODO = {
    "nubis.managers": "each RPC method of the service's API it does not serve yet",
    "nubis.virt": "each method that raised NotImplementedError",
    "oslo.messaging.drivers": "each method that raised NotImplementedError",
}

# --------------------------------------------------------------------------- building


@dataclasses.dataclass(frozen=True)
class Package:
    """What :func:`files` writes, and where."""

    namespace: str
    name: str
    dist: str
    module: str
    kind: Kind
    files: dict[str, str]


def class_name(name: str, suffix: str) -> str:
    """``my_thing`` + ``Filter`` -> ``MyThingFilter``."""
    return "".join(part.capitalize() for part in name.split("_") if part) + suffix


def check_name(namespace: str, name: str) -> None:
    """Raise ScaffoldError unless *name* can be a plugin of *namespace*."""
    if namespace == "oslo.messaging.drivers":
        if not _SCHEME.fullmatch(name):
            raise ScaffoldError(
                f"transport name {name!r} is the scheme of transport_url: lower-case "
                "letters and digits, starting with a letter"
            )
    elif not _NAME.fullmatch(name) or keyword.iskeyword(name):
        raise ScaffoldError(
            f"plugin name {name!r}: use lower-case letters, digits and '_', starting with "
            "a letter (it is written in configuration files, and a periodic task's "
            "function is named after it)"
        )


def files(namespace: str, name: str, dist: str | None = None) -> Package:
    """The package for plugin *name* of *namespace*: ``{relative path: text}``."""
    try:
        ns = plugins.namespace(namespace)
    except Exception as exc:
        raise ScaffoldError(str(exc)) from None
    kind = KINDS.get(ns.name)
    if kind is None:  # pragma: no cover - every namespace has one (a test says so)
        raise ScaffoldError(f"the scaffold has nothing for {namespace}")
    check_name(ns.name, name)
    dist = dist or f"nubis-{kind.slug}-{name.replace('_', '-')}"
    if not _DIST.fullmatch(dist):
        raise ScaffoldError(f"distribution name {dist!r} is not a valid project name")
    module = re.sub(r"[^A-Za-z0-9]+", "_", dist).lower()
    cls = class_name(name, kind.suffix) if kind.suffix else name
    group = f"{name}_{kind.slug}"
    values = {
        "name": name,
        "namespace": ns.name,
        "dist": dist,
        "module": module,
        "cls": cls,
        "group": group,
        "what": kind.what,
        "impl": kind.module,
        "attr": cls,
        "nubis_version": _nubis_version(),
        "service": "scheduler",
        "rpcapi": "nubis.core.scheduler.rpcapi",
        "version": _scheduler_rpc_version(),
        "stubs": _stubs(ns) if ns.name in ("nubis.virt", "oslo.messaging.drivers") else "",
    }

    def fill(template: str) -> str:
        return string.Template(template).substitute(values)

    values["todo"] = _TODO.get(ns.name, "")
    values["opts"] = fill(kind.options)
    values["usage"] = fill(_USAGE[ns.name])
    values["status"] = fill(_SKELETON_STATUS if kind.skeleton else _HONEST_STATUS)
    src = f"src/{module}"
    result = {
        "pyproject.toml": fill(_PYPROJECT),
        "README.md": fill(_README),
        f"{src}/__init__.py": fill(_INIT),
        f"{src}/conf.py": fill(_CONF),
        f"{src}/{kind.module}.py": fill(kind.implementation),
        f"{src}/conformance.py": fill(kind.environment),
        "tests/test_conformance.py": fill(_TESTS) + fill(kind.own_tests),
    }
    return Package(ns.name, name, dist, module, kind, result)


def write(package: Package, directory: Path) -> list[Path]:
    """Write *package* into *directory* (new, or empty); return the files written."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ScaffoldError(f"{directory} exists and is not an empty directory")
    written = []
    for relative, text in package.files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def _nubis_version() -> str:
    try:
        version = importlib.metadata.version("nubis")
    except importlib.metadata.PackageNotFoundError:
        return "0.1"
    return ".".join(version.split(".")[:2])


def _scheduler_rpc_version() -> str:
    from nubis.core.scheduler import rpcapi

    return str(rpcapi.SchedulerAPI.VERSION)


def _define(method: str, signature: inspect.Signature) -> str:
    """``def method(...):`` on one line, or one parameter a line when that is too long."""
    line = f"    def {method}{signature}:".replace("'", '"')
    if len(line) <= 100:
        return line
    params: list[str] = []
    for param in signature.parameters.values():
        if params and param.kind is not param.POSITIONAL_ONLY and "/" not in params:
            if any(p.kind is p.POSITIONAL_ONLY for p in signature.parameters.values()):
                params.append("/")
        params.append(str(param).replace("'", '"'))
    body = "".join(f"        {p},\n" for p in params)
    return f"    def {method}(\n{body}    ):"


def _stubs(ns: plugins.Namespace) -> str:
    """A method raising NotImplementedError for each abstract method of *ns*'s interface
    (but those the template writes), with the signature the plugin core checks."""
    interface = plugins.resolve_interface(ns)
    written = {"init_host", "cleanup_host", "get_host_ip_addr"}
    out = []
    for method in sorted(getattr(interface, "__abstractmethods__", ())):
        if method in written:
            continue
        doc = (inspect.getdoc(getattr(interface, method)) or "").split("\n\n")[0]
        doc = " ".join(doc.split())
        lines = [_define(method, plugins.contract_parameters(ns, method))]
        if doc:
            wrapped = textwrap.wrap(f'"""{doc}"""', 84)
            lines += [f"        {line}" for line in wrapped]
        lines.append(f'        raise NotImplementedError("{method}(): not written yet")')
        out.append("\n".join(lines))
    return "\n" + "\n\n".join(out) + "\n" if out else ""
