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
import inspect
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stevedore import driver, named

from nubis.core import exception

#: The group in :attr:`Namespace.option` that stands for each service's own group.
SERVICE_GROUP = "<service>"

_OPTION = re.compile(r"\[([^\]]+)\] (\w+)")


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
    """

    name: str
    interface: str
    option: str
    description: str
    kind: str = "class"
    capabilities: str | None = None
    services: tuple[str, ...] | None = None

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
    """Return what *plugin* lacks against the interface of *ns*; empty when it conforms.

    For a class interface: the plugin must be a class, provide every abstract method of
    the interface (not itself left abstract), each such method must accept the
    interface method's parameters, and its declared ``capabilities`` must pass
    :func:`capability_problems`; an interface may add checks of its own with a
    ``contract_problems`` classmethod (see :func:`_own_checks`). For a function
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
        mismatch = _signature_mismatch(getattr(interface, method), getattr(plugin, method))
        if mismatch:
            problems.append(f"{method}{mismatch}")
    if not problems and not _implements(plugin, interface):
        problems.append(f"not a subclass of {interface.__module__}.{interface.__qualname__}")
    if not problems:
        problems.extend(capability_problems(ns, plugin))
        problems.extend(_own_checks(interface, plugin))
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


def _signature_mismatch(spec: Any, impl: Any) -> str | None:
    """Return why *impl* cannot be called as *spec* is, or None when it can."""
    try:
        want = inspect.signature(spec)
        have = inspect.signature(impl)
    except (TypeError, ValueError):
        return None
    have_params = have.parameters
    var_pos = any(p.kind is p.VAR_POSITIONAL for p in have_params.values())
    var_kw = any(p.kind is p.VAR_KEYWORD for p in have_params.values())
    for param in want.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name not in have_params and not (var_kw or var_pos):
            return f"() lacks parameter '{param.name}': expected {want}, got {have}"
    required_extra = [
        p.name
        for p in have_params.values()
        if p.default is p.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and p.name not in want.parameters
    ]
    if required_extra:
        return f"() requires parameters the contract never passes: {', '.join(required_extra)}"
    return None


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
            name=name, namespace=namespace_name, reason=_one_line(exc)
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

    def on_load_failure(_manager: Any, entrypoint: Any, exc: BaseException) -> None:
        failures.append(f"{entrypoint.name}: {_one_line(exc)}")

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
            dist = ep.dist
            import_error = None
            problems: tuple[str, ...] = ()
            try:
                problems = tuple(contract_problems(ns, ep.load()))
            except Exception as exc:
                import_error = _one_line(exc)
            result.append(
                InstalledPlugin(
                    namespace=ns.name,
                    name=ep.name,
                    target=ep.value,
                    distribution=dist.metadata["Name"] if dist else "?",
                    version=dist.version if dist else "?",
                    problems=problems,
                    import_error=import_error,
                )
            )
    return result


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exception.one_line(exc)}"
