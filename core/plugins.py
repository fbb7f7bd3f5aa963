"""The plugin core: the table of namespaces and the loaders that fill them.

Every slot a deployment fills is a namespace of Python entry points. :data:`NAMESPACES`
is the one table of them: the namespace, the interface a plugin must implement (named
by import path so that nothing is imported before it is needed), the option that
chooses the plugin, which services load it, and what the slot is for. The start-up
check (:mod:`nubis.core.conf.check`) reads the options it validates from this table.

:func:`load_one` loads the plugin named by an option (stevedore ``DriverManager``);
:func:`load_many` loads an ordered list (stevedore ``NamedExtensionManager``). Both
check what they loaded against the namespace's interface before returning it, the way
pluggy validates a hook implementation against its spec, and fail with a one-line
:class:`~nubis.core.exception.NubisException` that names the plugin, the namespace, the
option and what would be right.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import inspect
import re
import sys
import traceback
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from oslo_config import cfg
from stevedore import driver, named

from nubis.core import exception

#: The group in :attr:`Namespace.option` that stands for each service's own group.
SERVICE_GROUP = "<service>"

_OPTION = re.compile(r"\[([^\]]+)\] (\w+)")

#: :attr:`Namespace.passing`: every argument of the interface's methods is passed by
#: position, so every parameter is positional-only: its name is the plugin's, its
#: position is not (``host_passes(self, host_state, spec, /)``).
POSITIONAL = "positional"
#: Arguments without a default are passed by position (names are the plugin's);
#: arguments with a default may be passed by keyword, so those keep their names
#: (``reboot(self, context, instance, /, reboot_type=...)``).
REQUIRED_POSITIONAL = "required-positional"
#: Any argument may be passed by keyword: every parameter keeps its name.
KEYWORD = "keyword"
PASSING = (POSITIONAL, REQUIRED_POSITIONAL, KEYWORD)


@dataclasses.dataclass(frozen=True)
class Namespace:
    """One plugin slot: what fills it, how it is chosen and what a plugin must provide.

    ``interface`` is ``"module:attribute"``. ``option`` is ``"[group] name"`` of the
    option naming the plugin (or a list of them), the group ``<service>`` meaning each
    service's own group, or words for a choice made otherwise (the transport, by the
    scheme of ``transport_url``). ``services`` names the services whose processes load
    the namespace's plugins; None means every process (for a ``<service>`` option:
    every service that has it). ``kind`` says what the entry point must load:
    ``"class"`` (a subclass of, or a class implementing, the interface class) or
    ``"function"`` (a callable the interface function accepts; see
    :func:`nubis.core.periodic.check_task`). ``capabilities``, when set, is
    ``"module:attribute"`` of the mapping of optional-capability names a plugin may
    declare in its ``capabilities`` attribute (name -> what declaring it promises).
    ``passing`` says how nubis passes the arguments of the interface's methods, and so
    which parameter names a plugin must keep (:data:`POSITIONAL`,
    :data:`REQUIRED_POSITIONAL` or :data:`KEYWORD`; see :func:`contract_problems`).
    ``owner`` is the distribution that defines a namespace nubis does not own.
    """

    name: str
    interface: str
    option: str
    description: str
    kind: str = "class"
    capabilities: str | None = None
    services: tuple[str, ...] | None = None
    passing: str = POSITIONAL
    owner: str | None = None

    def foreign(self, distribution: str | None) -> bool:
        """Whether a plugin of *distribution* is the namespace owner's own (when the
        namespace is not nubis's, e.g. oslo.messaging's drivers): nubis neither runs
        the kit on those unless asked nor counts them as its own failures."""
        return self.owner is not None and distribution == self.owner

    def option_path(self) -> tuple[str, str] | None:
        """Return ``(group, name)`` of :attr:`option`, or None when it is not one."""
        match = _OPTION.fullmatch(self.option)
        return (match.group(1), match.group(2)) if match else None


NAMESPACES: tuple[Namespace, ...] = (
    Namespace(
        "nubis.managers",
        "nubis.core.manager:Manager",
        "[<service>] manager",
        "the manager a service binary runs",
        # oslo.messaging dispatches RPC methods with keyword arguments.
        passing=KEYWORD,
    ),
    Namespace(
        "nubis.indirection",
        "oslo_versionedobjects.base:VersionedObjectIndirectionAPI",
        "[indirection] api",
        "where remotable object methods run",
    ),
    Namespace(
        "nubis.servicegroup",
        "nubis.core.servicegroup.driver:ServiceGroupDriver",
        "[servicegroup] driver",
        "liveness and membership of services",
        capabilities="nubis.core.conformance.capabilities:SERVICEGROUP",
    ),
    Namespace(
        "nubis.periodic_tasks",
        "nubis.core.periodic:check_task",
        "[<service>] periodic_tasks",
        "periodic tasks a manager runs",
        kind="function",
    ),
    Namespace(
        "nubis.virt",
        "nubis.core.virt.driver:ComputeDriver",
        "[compute] virt_driver",
        "the hypervisor driver nubis-compute runs guests with",
        capabilities="nubis.core.virt.driver:CAPABILITIES",
        services=("compute",),
        # The manager passes context and instance by position and the options by
        # keyword (reboot_type=, destroy_disks=, refresh=, migrate_data=, timeout=).
        passing=REQUIRED_POSITIONAL,
    ),
    Namespace(
        "nubis.scheduler.filters",
        "nubis.core.scheduler.filters:BaseHostFilter",
        "[scheduler] enabled_filters",
        "which compute nodes can take a request",
        services=("scheduler",),
    ),
    Namespace(
        "nubis.scheduler.weighers",
        "nubis.core.scheduler.weighers:BaseHostWeigher",
        "[scheduler] weighers",
        "how the scheduler ranks the nodes that passed the filters",
        services=("scheduler",),
    ),
    Namespace(
        "nubis.api.auth",
        "nubis.core.api.auth:AuthPlugin",
        "[api] auth_strategy",
        "how nubis-api authenticates requests",
        services=("api",),
    ),
    Namespace(
        "oslo.messaging.drivers",
        "oslo_messaging._drivers.base:BaseDriver",
        "transport_url (its scheme)",
        "the message bus transport",
        # oslo.messaging passes some of them by keyword (send(..., wait_for_reply=...),
        # send_notification(..., retry=...)): keep oslo's names.
        passing=KEYWORD,
        owner="oslo.messaging",
    ),
)

_BY_NAME = {ns.name: ns for ns in NAMESPACES}


def namespace(name: str) -> Namespace:
    """Return the table entry of namespace *name* or raise UnknownNamespace."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise exception.UnknownNamespace(
            namespace=name, known=", ".join(sorted(_BY_NAME))
        ) from None


def available(namespace_name: str) -> list[str]:
    """Return the sorted names of the plugins installed in *namespace_name*."""
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=namespace_name)})


def resolve_interface(ns: Namespace) -> Any:
    """Import and return the interface object of *ns*."""
    module, _, attr = ns.interface.partition(":")
    return getattr(importlib.import_module(module), attr)


def contract_problems(ns: Namespace, plugin: Any) -> list[str]:
    """Return every way *plugin* fails the interface of *ns*; empty when it conforms.

    For a class interface: the plugin must be a class, provide every abstract method of
    the interface (not itself left abstract), each such method must accept the
    arguments nubis passes it (:func:`signature_problem`, by :attr:`Namespace.passing`),
    a concrete base (Manager) must be inherited, its declared ``capabilities`` must pass
    :func:`capability_problems`, and an interface may add checks of its own with a
    ``contract_problems`` classmethod (see :func:`_own_checks`). All of these are
    reported together, so that one report names everything to fix. For a function
    interface: the interface is a check function that returns the problems itself.
    """
    interface = resolve_interface(ns)
    if ns.kind == "function":
        problems: list[str] = interface(plugin)
        return problems
    if not inspect.isclass(plugin):
        return [f"expected a class, got {type(plugin).__name__} {plugin!r}"]
    problems = []
    for method in sorted(getattr(interface, "__abstractmethods__", ())):
        impl = inspect.getattr_static(plugin, method, None)
        if impl is None:
            problems.append(f"missing {method}()")
            continue
        if getattr(impl, "__isabstractmethod__", False):
            problems.append(f"{method}() is still abstract")
            continue
        mismatch = signature_problem(ns, plugin, method)
        if mismatch:
            problems.append(mismatch)
    if not _implements(plugin, interface):
        problems.append(f"not a subclass of {interface.__module__}.{interface.__qualname__}")
    problems.extend(capability_problems(ns, plugin))
    problems.extend(p for p in _own_checks(interface, plugin) if p not in problems)
    return problems


def known_capabilities(ns: Namespace) -> dict[str, str]:
    """Return the capability names plugins of *ns* may declare (name -> promise)."""
    if ns.capabilities is None:
        return {}
    module, _, attr = ns.capabilities.partition(":")
    return dict(getattr(importlib.import_module(module), attr))


def capability_problems(ns: Namespace, plugin: Any) -> list[str]:
    """Return what is wrong with the ``capabilities`` *plugin* declares for *ns*.

    They must be a mapping of names from :func:`known_capabilities` to bools; a
    namespace without a capability table accepts none. This is the one check of
    declared capabilities: :func:`contract_problems` runs it on every class plugin.
    """
    caps = getattr(plugin, "capabilities", None) or {}
    if not isinstance(caps, Mapping):
        if ns.capabilities is None:
            return []  # an unrelated attribute of that name, in a namespace without any
        return [f"capabilities must be a mapping of name -> bool, got {type(caps).__name__}"]
    known = known_capabilities(ns)
    problems = []
    unknown = sorted(str(name) for name in caps if name not in known)
    if unknown:
        problems.append(
            f"unknown capabilities {', '.join(unknown)}; known: "
            f"{', '.join(sorted(known)) or '(none in ' + ns.name + ')'}"
        )
    not_bool = sorted(str(n) for n, v in caps.items() if not isinstance(v, bool))
    if not_bool:
        problems.append(f"capabilities must be bools: {', '.join(not_bool)}")
    return problems


def _own_checks(interface: type, plugin: type) -> list[str]:
    """Run the interface's own ``contract_problems`` classmethod, if any, on *plugin*.

    The interface's version runs (not one the plugin may override), with *plugin* as
    its class argument: e.g. ComputeDriver checks that a driver declaring
    ``supports_live_migration`` implements the live-migration methods.
    """
    hook = inspect.getattr_static(interface, "contract_problems", None)
    if not isinstance(hook, classmethod):
        return []
    extra: list[str] = hook.__func__(plugin)
    return extra


def _implements(plugin: type, interface: type) -> bool:
    # An ABC with abstract methods is satisfied by implementing them (checked above);
    # a concrete base class such as Manager must be inherited.
    return issubclass(plugin, interface) or bool(getattr(interface, "__abstractmethods__", ()))


_POSITIONAL_KINDS = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _parameters(owner: Any, method: str) -> list[inspect.Parameter] | None:
    """The parameters of *owner*'s *method* as a caller of an instance sees them."""
    raw = inspect.getattr_static(owner, method, None)
    try:
        if isinstance(raw, staticmethod | classmethod):
            return list(inspect.signature(getattr(owner, method)).parameters.values())
        params = list(inspect.signature(getattr(owner, method)).parameters.values())
    except (TypeError, ValueError):
        return None
    return params[1:] if params and params[0].kind in _POSITIONAL_KINDS else params


def by_position(ns: Namespace, param: inspect.Parameter) -> bool:
    """Whether nubis passes the argument of interface parameter *param* by position.

    Such a parameter is positional-only in the contract: a plugin may name it as it
    likes. An interface that spells a parameter positional-only (``/``) makes it so
    whatever :attr:`Namespace.passing` says.
    """
    if param.kind is param.POSITIONAL_ONLY:
        return True
    if param.kind is not param.POSITIONAL_OR_KEYWORD or ns.passing == KEYWORD:
        return False
    return ns.passing == POSITIONAL or param.default is param.empty


def contract_signature(ns: Namespace, method: str) -> str:
    """The signature of interface *method* of *ns* as the contract reads, ``/`` included.

    E.g. ``host_passes(self, host_state, spec, /)`` for a filter: positional-only
    parameters are passed by position and may have any name.
    """
    return f"{method}{contract_parameters(ns, method)}"


def contract_parameters(ns: Namespace, method: str) -> inspect.Signature:
    """:func:`contract_signature` as an :class:`inspect.Signature` (no annotations)."""
    interface = resolve_interface(ns)
    params = _parameters(interface, method) or []
    shown = []
    for param in params:
        if by_position(ns, param) and param.kind is param.POSITIONAL_OR_KEYWORD:
            param = param.replace(kind=param.POSITIONAL_ONLY)
        shown.append(param.replace(annotation=param.empty))
    only = any(p.kind is p.POSITIONAL_ONLY for p in shown)
    kind = inspect.Parameter.POSITIONAL_ONLY if only else inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature([inspect.Parameter("self", kind), *shown])


def signature_problem(ns: Namespace, plugin: Any, method: str) -> str | None:
    """Return why *plugin*'s *method* cannot be called as nubis calls it, or None.

    Arguments nubis passes by position (:func:`by_position`) need a positional
    parameter at that place, of any name (or ``*args``); arguments it may pass by
    keyword need a parameter of that name that accepts a keyword (or ``**kwargs``). A
    parameter without a default that nubis never fills is a problem too.
    """
    interface = resolve_interface(ns)
    want = _parameters(interface, method)
    have = _parameters(plugin, method)
    if want is None or have is None:
        return None
    have_positional = [p for p in have if p.kind in _POSITIONAL_KINDS]
    var_positional = any(p.kind is p.VAR_POSITIONAL for p in have)
    var_keyword = any(p.kind is p.VAR_KEYWORD for p in have)
    by_name = {p.name: p for p in have}
    filled: set[str] = set()
    positional_wanted = [p for p in want if p.kind in _POSITIONAL_KINDS and by_position(ns, p)]
    lacking: list[str] = []
    for index, param in enumerate(p for p in want if p.kind in _POSITIONAL_KINDS):
        if not by_position(ns, param):
            continue
        if index < len(have_positional):
            filled.add(have_positional[index].name)
        elif not var_positional:
            lacking.append(param.name)
    expected = contract_signature(ns, method)
    got = f"{method}{_plain(inspect.signature(getattr(plugin, method)))}"
    if lacking:
        return (
            f"{method}() takes {len(have_positional)} positional argument(s) but nubis "
            f"passes {len(positional_wanted)} by position "
            f"({', '.join(p.name for p in positional_wanted)}): expected {expected}, got {got}"
        )
    for param in want:
        if param.kind in _VARIADIC or by_position(ns, param):
            continue
        mine = by_name.get(param.name)
        if mine is not None and mine.kind is not mine.POSITIONAL_ONLY:
            filled.add(mine.name)
        elif not var_keyword:
            return (
                f"{method}() lacks parameter '{param.name}' (nubis may pass it by keyword): "
                f"expected {expected}, got {got}"
            )
    required_extra = [
        p.name
        for p in have
        if p.default is p.empty and p.kind not in _VARIADIC and p.name not in filled
    ]
    if required_extra:
        return (
            f"{method}() requires parameters the contract never passes: {', '.join(required_extra)}"
        )
    return None


def _plain(signature: inspect.Signature) -> inspect.Signature:
    """*signature* without annotations (what an error message shows)."""
    return signature.replace(
        parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
        return_annotation=inspect.Signature.empty,
    )


def check(namespace_name: str, name: str, plugin: Any) -> None:
    """Raise PluginContractViolation when *plugin* does not conform to its namespace."""
    ns = namespace(namespace_name)
    problems = contract_problems(ns, plugin)
    if problems:
        raise exception.PluginContractViolation(
            name=name, namespace=ns.name, interface=ns.interface, reason="; ".join(problems)
        )


def ensure_installed(namespace_name: str, name: str, option: str | None = None) -> None:
    """Raise PluginNotFound unless a plugin *name* is installed in *namespace_name*.

    This imports nothing; the start-up check uses it to reject bad names before any
    service starts.
    """
    names = available(namespace_name)
    if name not in names:
        raise exception.PluginNotFound(
            name=name,
            namespace=namespace_name,
            option=option or namespace(namespace_name).option,
            available=", ".join(names) or "(none installed)",
        )


def entry_point(namespace_name: str, name: str) -> importlib.metadata.EntryPoint | None:
    """The installed entry point *name* of *namespace_name* (None when there is none)."""
    for ep in importlib.metadata.entry_points(group=namespace_name):
        if ep.name == name:
            return ep
    return None


def distribution_of(ep: importlib.metadata.EntryPoint | None) -> tuple[str, str]:
    """``(name, version)`` of the distribution that declares *ep* (``("?", "?")``)."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", "?"
    return str(dist.metadata["Name"] or "?"), str(dist.version or "?")


def load_error(ep: importlib.metadata.EntryPoint | None, exc: BaseException) -> str:
    """One line for *exc*, raised while importing entry point *ep*: what was raised,
    and where -- the entry point, its distribution, the module and its file."""
    text = _one_line(exc)
    if ep is None:
        return text
    dist, version = distribution_of(ep)
    module = ep.module
    place = f"module {module}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    own = [f for f in frames if _module_file(module) == f.filename]
    if own:
        place += f" at {own[-1].filename}:{own[-1].lineno}"
    elif _module_file(module):
        place += f" ({_module_file(module)})"
    else:
        place += " (not found on sys.path)" if isinstance(exc, ModuleNotFoundError) else ""
    if frames and not own:
        place += f"; raised at {frames[-1].filename}:{frames[-1].lineno}"
    return f"{text} [entry point '{ep.name} = {ep.value}' of {dist} {version}; {place}]"


def _module_file(module: str) -> str | None:
    """The file of *module* without importing it (None when it cannot be found)."""
    loaded = sys.modules.get(module)
    if loaded is not None:
        return getattr(loaded, "__file__", None)
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.has_location else None


def load_one(namespace_name: str, name: str, option: str | None = None) -> Any:
    """Load and check the plugin *name* of *namespace_name*; return what it exports.

    *option* is how the operator chose the name (e.g. ``[compute] virt_driver``); it
    appears in the error when the name is wrong.
    """
    ensure_installed(namespace_name, name, option)
    try:
        manager: driver.DriverManager[Any] = driver.DriverManager(
            namespace_name, name, invoke_on_load=False, warn_on_missing_entrypoint=False
        )
    except Exception as exc:  # an ImportError or anything else the plugin's import raised
        raise exception.PluginLoadFailed(
            name=name,
            namespace=namespace_name,
            reason=load_error(entry_point(namespace_name, name), exc),
        ) from exc
    plugin = manager.driver
    check(namespace_name, name, plugin)
    return plugin


def load_many(namespace_name: str, names: Sequence[str], option: str | None = None) -> list[Any]:
    """Load and check the plugins *names* of *namespace_name*, in the order given."""
    names = list(names)
    if not names:
        return []
    installed = available(namespace_name)
    unknown = [n for n in names if n not in installed]
    if unknown:
        raise exception.PluginNotFound(
            name="', '".join(unknown),
            namespace=namespace_name,
            option=option or namespace(namespace_name).option,
            available=", ".join(installed) or "(none installed)",
        )
    failures: list[str] = []

    def on_load_failure(_manager: Any, ep: Any, exc: BaseException) -> None:
        failures.append(f"{ep.name}: {load_error(entry_point(namespace_name, ep.name), exc)}")

    manager: named.NamedExtensionManager[Any] = named.NamedExtensionManager(
        namespace_name,
        names,
        name_order=True,
        invoke_on_load=False,
        on_load_failure_callback=on_load_failure,
    )
    if failures:
        raise exception.PluginLoadFailed(
            name=", ".join(names), namespace=namespace_name, reason="; ".join(failures)
        )
    plugins = []
    for ext in manager.extensions:
        check(namespace_name, ext.name, ext.plugin)
        plugins.append(ext.plugin)
    return plugins


def published_options(namespace_name: str, name: str) -> list[tuple[str | None, list[Any]]]:
    """The options plugin *name* publishes: ``oslo.config.opts`` entry point
    ``<namespace>.<name>`` (``[(group, [opt, ...]), ...]``; empty when none)."""
    ep = entry_point("oslo.config.opts", f"{namespace_name}.{name}")
    if ep is None:
        return []
    return [(group, list(opts)) for group, opts in ep.load()()]


#: The optional attribute of a plugin that checks its own options (see option_problems).
OPTION_CHECK = "check_options"


def register_published_options(namespace_name: str, name: str, conf: Any) -> list[str]:
    """Register on *conf* the options plugin *name* publishes (:func:`published_options`);
    registering them again is a no-op. Returns one problem line when the plugin's
    ``list_opts`` fails or clashes with an option already registered, else nothing."""
    try:
        for group, opts in published_options(namespace_name, name):
            conf.register_opts(opts, group=group)
    except Exception as exc:  # a broken list_opts or a clash with a registered option
        return [f"its published options ({namespace_name}.{name}) fail: {_one_line(exc)}"]
    return []


def option_check_problems(
    namespace_name: str, name: str, plugin: Any, conf: Any, option: str | None = None
) -> list[str]:
    """Ask plugin *name* (already loaded: *plugin*) to check its options.

    A plugin may check them itself: ``check_options(conf)``, a static or class method
    of a class plugin (an attribute of a function plugin), returns one-line problems
    (or raises :class:`~nubis.core.exception.ConfigurationError` for the first); it
    must not connect anywhere -- it runs before anything starts, after the plugin's
    published options are registered. A value oslo.config refuses (its types and
    bounds) is not reported here; :func:`option_problems` and the start-up check read
    every value. A hook that fails is one problem naming the plugin and *option*
    (the option that chose it).
    """
    check_options = getattr(plugin, OPTION_CHECK, None)
    if not callable(check_options):
        return []
    try:
        found = check_options(conf)
    except exception.ConfigurationError as exc:
        return [exception.one_line(exc)]
    except cfg.Error:
        return []  # a bad value of its options: whoever reads the values reports it
    except Exception as exc:
        where = f"{option}: " if option else ""
        return [
            f"{where}the option check of plugin '{name}' ({namespace_name}) failed: "
            f"{type(exc).__name__}: {exception.one_line(exc)}"
        ]
    return [str(p) for p in found or ()]


def option_problems(namespace_name: str, name: str, plugin: Any, conf: Any) -> list[str]:
    """Return what is wrong with *conf* for plugin *name* (already loaded: *plugin*):
    its published options registered (:func:`register_published_options`), their values
    read (oslo.config's types and bounds), and its own check
    (:func:`option_check_problems`)."""
    problems = register_published_options(namespace_name, name, conf)
    if problems:
        return problems
    for group, opts in published_options(namespace_name, name):
        for opt in opts:
            try:
                getattr(conf[group] if group else conf, opt.dest)
            except (cfg.Error, ValueError) as exc:
                problems.append(f"[{group or 'DEFAULT'}] {opt.name}: {exception.one_line(exc)}")
    return problems + option_check_problems(namespace_name, name, plugin, conf)


@dataclasses.dataclass(frozen=True)
class InstalledPlugin:
    """What ``nubis-manage plugins list`` reports of one installed plugin."""

    namespace: str
    name: str
    target: str
    distribution: str
    version: str
    problems: tuple[str, ...]
    import_error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.import_error is None


def inventory(namespaces: Iterable[str] | None = None) -> list[InstalledPlugin]:
    """Load every installed plugin of *namespaces* (default: all) and check each one."""
    result = []
    for ns_name in namespaces or [ns.name for ns in NAMESPACES]:
        ns = namespace(ns_name)
        seen = set()
        for ep in sorted(importlib.metadata.entry_points(group=ns.name), key=lambda e: e.name):
            if ep.name in seen:
                continue
            seen.add(ep.name)
            dist, version = distribution_of(ep)
            import_error = None
            problems: tuple[str, ...] = ()
            try:
                loaded = ep.load()
            except Exception as exc:
                import_error = load_error(ep, exc)
            else:
                problems = tuple(contract_problems(ns, loaded))
            result.append(
                InstalledPlugin(
                    namespace=ns.name,
                    name=ep.name,
                    target=ep.value,
                    distribution=dist,
                    version=version,
                    problems=problems,
                    import_error=import_error,
                )
            )
    return result


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exception.one_line(exc)}"
