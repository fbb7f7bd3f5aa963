"""The configuration check: every check a service makes at start, in one place.

Every binary runs :func:`check` before it starts anything, and ``nubis-manage config
check SERVICE...`` runs the same :func:`problems`, so that a configuration the check
passes is one the services start with. For the services named it checks:

* the service names themselves (``[all_in_one] services``: known names, not empty, none
  twice);
* the plugins: every name chosen for those services (managers, periodic tasks, the
  indirection API, the servicegroup driver, the virt driver, filters and weighers, the
  API's auth plugin, the transport driver) is installed, imports, and implements its
  namespace's interface -- an import failure names the module and its distribution;
* the plugins' own options: the options a chosen plugin publishes (``oslo.config.opts``
  entry point ``<namespace>.<plugin>``) are registered, and its optional
  ``check_options(conf) -> list[str]`` hook is called (:func:`plugin_option_problems`);
* every option value: oslo.config checks types, ranges and choices only when a value
  is read, which for some options is at the first request; here every registered option
  is read once (a port above 65535, ``threads = 0``, ``[libvirt] virt_type = xen``,
  ``[local_auth] token_expiration`` under 60 s, ``[api] max_request_body_size`` under
  1 KiB, an empty ``host``);
* ``transport_url`` parses and names an installed driver; ``[upgrade_levels]``;
* ``state_path`` (and the SQLite database's folder) can be created and written;
* the database URL parses, names a supported database and its driver is installed
  (for every service that opens the database: all but a compute whose objects go to
  the conductor);
* for nubis-api: ``[api] listen`` resolves to an address of this host and ``[api]
  port`` is free there, the auth plugin accepts the address, the policy file parses,
  ``[api] images_path`` can be written.

Each problem is one line naming the option; :func:`check` raises the only one as it
is (:class:`~nubis.core.exception.PluginNotFound`, :class:`~nubis.core.exception.
ConfigurationError`, ...) or several as :class:`ConfigurationInvalid`, which carries them
all. It corrects what Nova corrects instead of failing: ``service_down_time`` not above
``report_interval`` is raised to 2.5 x ``report_interval`` with a warning. Messages
never show a password (:mod:`nubis.core.conf.masking`).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import socket
from collections.abc import Callable, Iterable
from typing import Any

from oslo_config import cfg

from nubis.core import exception, plugins, rpc
from nubis.core.conf import durability, paths, upgrade_levels
from nubis.core.conf.masking import mask, mask_url
from nubis.core.rpc import client as rpc_client

LOG = logging.getLogger(__name__)

#: The services a nubis process can run (``[all_in_one] services``).
SERVICES = ("api", "compute", "conductor", "scheduler")
#: Database types nubis runs on (its migrations are tested there).
DATABASES = ("sqlite", "postgresql", "mysql", "mariadb")
_DB_EXAMPLE = "use e.g. sqlite:////var/lib/nubis/nubis.sqlite or postgresql://nubis:secret@db/nubis"


class ConfigurationInvalid(exception.NubisException):
    """Several configuration problems; :attr:`problems` holds them, one line each."""

    msg_fmt = "%(first)s (and %(more)s more problems; nubis-manage config check lists them)"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(first=self.problems[0], more=len(self.problems) - 1)


def check(conf: cfg.ConfigOpts, services: Iterable[str], services_option: str = "") -> None:
    """Validate *conf* for starting *services* (e.g. ``["conductor", "compute"]``).

    *services_option* says where the names come from (``[all_in_one] services``) for
    the message about an unknown one. Raises the one problem found as it is, several as
    :class:`ConfigurationInvalid`; then corrects ``service_down_time``.
    """
    found = _collect(conf, list(services), services_option)
    if len(found) == 1:
        raise found[0]
    if found:
        raise ConfigurationInvalid([_line(p) for p in found])
    fix_service_down_time(conf)


def problems(conf: cfg.ConfigOpts, services: Iterable[str], services_option: str = "") -> list[str]:
    """Return every problem :func:`check` would raise, one line each (masked)."""
    return [_line(p) for p in _collect(conf, list(services), services_option)]


def _line(problem: BaseException) -> str:
    return mask(exception.one_line(problem))


def _collect(conf: cfg.ConfigOpts, services: list[str], services_option: str) -> list[Exception]:
    found: list[Exception] = []
    found.extend(_problem(p) for p in service_name_problems(services, services_option))
    services = [s for s in services if s in SERVICES]
    loaded, plugin_problems = load_chosen_plugins(conf, services)
    found.extend(plugin_problems)
    values = value_problems(conf)
    found.extend(_problem(p) for p in values)
    found.extend(_problem(p) for p in hook_problems(conf, loaded))

    def run(step: Callable[[], Iterable[str] | None]) -> None:
        try:
            found.extend(_problem(p) for p in step() or ())
        except cfg.Error as exc:
            if not values:  # otherwise it is a bad value, reported above
                found.append(exc)
        except exception.NubisException as exc:
            found.append(exc)

    run(lambda: _check_transport_url(conf))
    run(lambda: durability.durable_messaging_problems(conf))  # RPC topics survive restarts
    run(lambda: _check_upgrade_levels(conf))
    bad_state_path = len(found)
    run(lambda: _state_path_problems(conf))
    # A directory below a state_path that cannot be made is not reported again.
    skip = _state_path(conf) if len(found) > bad_state_path else None
    if uses_database(conf, services):
        run(lambda: database_problems(conf, skip_under=skip))
    if "api" in services:
        auth = next((p for ns, _, _, p in loaded if ns == "nubis.api.auth"), None)
        run(lambda: api_problems(conf, auth, skip_under=skip))
    unique: dict[str, Exception] = {}
    for problem in found:
        unique.setdefault(_line(problem), _masked(problem))
    return list(unique.values())


def _masked(problem: Exception) -> Exception:
    """*problem* with every URL in its message masked (the same exception object)."""
    if isinstance(problem, exception.NubisException):
        problem.message = mask(problem.message)
        problem.args = (problem.message,)
    return problem


def _problem(text: str | Exception) -> Exception:
    if isinstance(text, Exception):
        return text
    option, sep, reason = text.partition(": ")
    if sep and option.startswith("["):
        return exception.ConfigurationError(option=option, reason=reason)
    return exception.ConfigurationError(message=text)


# --- services ----------------------------------------------------------------------------


def service_name_problems(services: list[str], option: str = "") -> list[str]:
    """Unknown, repeated or missing service names, each naming *option*."""
    where = f"{option}: " if option else ""
    known = ", ".join(SERVICES)
    if not services:
        return [f"{where}no service to run; name one or more of: {known}"]
    found = [
        f"{where}unknown service {name!r}; known: {known}"
        for name in services
        if name not in SERVICES
    ]
    repeated = sorted({name for name in services if services.count(name) > 1})
    found.extend(f"{where}service {name!r} is listed more than once" for name in repeated)
    return found


# --- plugins -------------------------------------------------------------------------


def chosen_plugins(conf: cfg.ConfigOpts, services: list[str]) -> list[tuple[str, str, str]]:
    """``(namespace, plugin name, option)`` of every plugin *services* load, in table order."""
    chosen = []
    for ns in plugins.NAMESPACES:
        for group, opt in _choosing_options(conf, ns, services):
            try:
                value = getattr(conf[group], opt)
            except cfg.Error:
                continue  # a bad value: value_problems reports it
            for name in value if isinstance(value, list | tuple) else [value]:
                chosen.append((ns.name, name, f"[{group}] {opt}"))
    return chosen


def _choosing_options(
    conf: cfg.ConfigOpts, ns: plugins.Namespace, services: list[str]
) -> list[tuple[str, str]]:
    """Return ``(group, option)`` of each option choosing plugins of *ns* for *services*.

    Derived from the namespace table (:data:`nubis.core.plugins.NAMESPACES`): a
    ``[<service>]`` option is read from the group of each service that has it (the API
    runs no manager), a namespace loaded by given services only when one of them runs,
    any other every time. The transport is checked by :func:`_check_transport_url`.
    """
    path = ns.option_path()
    if path is None:
        return []
    group, opt = path
    if group == plugins.SERVICE_GROUP:
        return [(service, opt) for service in services if opt in conf[service]]
    if ns.services is not None and not set(ns.services) & set(services):
        return []
    return [(group, opt)]


def load_chosen_plugins(
    conf: cfg.ConfigOpts, services: list[str]
) -> tuple[list[tuple[str, str, str, Any]], list[Exception]]:
    """Load every plugin chosen for *services* and register the options each publishes.

    Returns ``(namespace, name, option, plugin)`` of the ones that loaded, and one
    problem per one that did not (not installed, not importable -- naming its entry
    point, distribution and module -- not implementing its interface, options that
    cannot be registered).
    """
    loaded: list[tuple[str, str, str, Any]] = []
    found: list[Exception] = []
    for namespace, name, option in chosen_plugins(conf, services):
        try:
            plugin = plugins.load_one(namespace, name, option)
        except exception.PluginLoadFailed as exc:
            found.append(exception.ConfigurationError(option=option, reason=str(exc)))
            continue
        except exception.NubisException as exc:
            found.append(exc)
            continue
        for problem in plugins.register_published_options(namespace, name, conf):
            found.append(exception.ConfigurationError(option=option, reason=problem))
        loaded.append((namespace, name, option, plugin))
    return loaded, found


def hook_problems(conf: cfg.ConfigOpts, loaded: list[tuple[str, str, str, Any]]) -> list[str]:
    """What the ``check_options(conf)`` hook of each loaded plugin finds, if it has one
    (:func:`nubis.core.plugins.option_check_problems`)."""
    found: list[str] = []
    seen: set[tuple[str, str]] = set()
    for namespace, name, option, plugin in loaded:
        if (namespace, name) not in seen:
            seen.add((namespace, name))
            found.extend(plugins.option_check_problems(namespace, name, plugin, conf, option))
    return found


def plugin_option_problems(conf: cfg.ConfigOpts, services: Iterable[str]) -> list[str]:
    """Load (:func:`nubis.core.plugins.load_one`) each plugin chosen for *services*,
    register the options it publishes and return what its optional hook finds.

    The hook, a classmethod, staticmethod or function attribute of what the entry
    point loads::

        @classmethod
        def check_options(cls, conf: cfg.ConfigOpts) -> list[str]: ...

    returns one line per problem, each naming the option (``"[redis_servicegroup] url:
    ..."``); it runs after the plugin's published options are registered and their
    values checked. Plugins that fail to load are reported as problems too.
    """
    loaded, failed = load_chosen_plugins(conf, list(services))
    return [_line(p) for p in failed] + hook_problems(conf, loaded)


# --- option values ---------------------------------------------------------------------

_INVALID = " is not valid: "
_LOCATION = re.compile(r"detail='([^']*)'")


def value_problems(conf: cfg.ConfigOpts) -> list[str]:
    """Read every registered option once; one line per value oslo.config refuses."""
    found = []
    for key in list(conf):
        try:
            value = conf[key]
        except cfg.Error as exc:
            found.append(_value_problem(conf, None, key, exc))
            continue
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for name in list(value):
                try:
                    value[name]
                except cfg.Error as exc:
                    found.append(_value_problem(conf, key, name, exc))
    return found


def _value_problem(conf: cfg.ConfigOpts, group: str | None, name: str, exc: cfg.Error) -> str:
    text = str(exc)
    option = f"[{group or 'DEFAULT'}] {name}"
    if _INVALID not in text:
        return f"{option}: {mask(exception.one_line(exc))}"
    reason = text.split(_INVALID, 1)[1]
    if reason.startswith(" "):  # oslo.config puts the value first: it was empty
        reason = "is empty"
    elif _is_secret(conf, group, name):
        reason = "is not valid"
    else:
        reason = reason[:1].lower() + reason[1:]
    location = _LOCATION.search(text)
    where = f" (in {location.group(1)})" if location and location.group(1) else ""
    return f"{option}: {mask(' '.join(reason.split()))}{where}"


def _is_secret(conf: cfg.ConfigOpts, group: str | None, name: str) -> bool:
    try:
        return bool(conf._get_opt_info(name, group)["opt"].secret)
    except (cfg.Error, KeyError):
        return True


# --- transport, upgrade levels, paths ------------------------------------------------


def _check_transport_url(conf: cfg.ConfigOpts) -> None:
    parsed = rpc.parse_transport_url(conf)
    plugins.ensure_installed(
        "oslo.messaging.drivers", parsed.transport, "[DEFAULT] transport_url (its scheme)"
    )
    ep = plugins.entry_point("oslo.messaging.drivers", parsed.transport)
    if ep is not None:
        try:
            ep.load()
        except Exception as exc:
            raise exception.PluginLoadFailed(
                name=parsed.transport,
                namespace="oslo.messaging.drivers",
                reason=plugins.load_error(ep, exc),
            ) from exc


def _check_upgrade_levels(conf: cfg.ConfigOpts) -> None:
    for name in upgrade_levels.RPC_APIS:
        rpc_client.upgrade_level(conf, name)


def _state_path(conf: cfg.ConfigOpts) -> str | None:
    try:
        return os.path.abspath(str(conf.state_path))
    except cfg.Error:
        return None


def _state_path_problems(conf: cfg.ConfigOpts) -> list[str]:
    problem = paths.directory_problem(str(conf.state_path))
    return [f"[DEFAULT] state_path: {problem}"] if problem else []


def _directory_problem(path: str, skip_under: str | None) -> str | None:
    path = os.path.abspath(path)
    if skip_under and (path == skip_under or path.startswith(skip_under.rstrip("/") + "/")):
        return None
    return paths.directory_problem(path)


# --- database ----------------------------------------------------------------------------


def uses_database(conf: cfg.ConfigOpts, services: list[str]) -> bool:
    """Whether a process running *services* opens ``[database] connection`` itself."""
    if any(service != "compute" for service in services):
        return True
    try:
        return str(conf.indirection.api) != "conductor"
    except cfg.Error:
        return True


def database_problems(conf: cfg.ConfigOpts, skip_under: str | None = None) -> list[str]:
    """What is wrong with ``[database] connection``: URL, database type, driver, folder
    (a folder below *skip_under*, a state_path already reported, is not checked)."""
    from sqlalchemy import exc as sa_exc

    from nubis.core.db import engine

    option = "[database] connection"
    connection = str(conf.database.connection)
    shown = mask_url(connection)
    try:
        url = engine.normalized_url(connection)
    except (sa_exc.ArgumentError, ValueError):
        return [f"{option}: {shown!r} is not a database URL; {_DB_EXAMPLE}"]
    backend = url.get_backend_name()
    if backend not in DATABASES:
        return [
            f"{option}: {shown!r} names database type {backend!r}; nubis runs on "
            f"{', '.join(DATABASES)}; {_DB_EXAMPLE}"
        ]
    try:
        dialect = url.get_dialect()
        dialect.import_dbapi()
    except sa_exc.NoSuchModuleError:
        return [f"{option}: {shown!r}: SQLAlchemy has no driver {url.drivername!r}"]
    except ImportError as exc:
        extra = "postgresql" if backend == "postgresql" else "mysql"
        return [
            f"{option}: the driver of {url.drivername} is not installed ({exc}); "
            f"install it, e.g. pip install 'nubis[{extra}]'"
        ]
    if backend != "sqlite" or engine.is_memory_sqlite(url) or not url.database:
        return []
    path = os.path.abspath(url.database)
    problem = _directory_problem(os.path.dirname(path), skip_under)
    if problem:
        return [f"{option}: the SQLite database's folder: {problem}"]
    if os.path.lexists(path) and not os.path.isfile(path):
        return [f"{option}: {path} is not a file"]
    return []


# --- nubis-api ---------------------------------------------------------------------------


def api_problems(
    conf: cfg.ConfigOpts, auth_plugin: Any = None, skip_under: str | None = None
) -> list[str]:
    """nubis-api's address and port, its auth plugin's verdict on the address, the
    policy file and the image directory (not checked below *skip_under*)."""
    found: list[str] = []
    try:
        listen = str(conf.api.listen)
    except cfg.Error:
        listen = None  # a bad value: value_problems reports it
    try:
        port = int(conf.api.port)
    except cfg.Error:
        port = 0  # a bad value: value_problems reports it; the address is still checked
    if listen is not None:
        found.extend(_listen_problems(listen, port))
    if auth_plugin is not None and listen is not None and not found:
        try:
            auth_plugin(conf).check_listen(listen)
        except exception.NubisException as exc:
            found.append(exception.one_line(exc))
    found.extend(policy_problems(conf))
    problem = _directory_problem(str(conf.api.images_path), skip_under)
    if problem:
        found.append(f"[api] images_path: {problem}")
    return found


def _listen_problems(listen: str, port: int) -> list[str]:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            listen, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return [
            f"[api] listen: {listen!r} is not an address of this host ({reason}); use an "
            "IP address such as 127.0.0.1, or 0.0.0.0 for every IPv4 address"
        ]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        sock.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return [
                f"[api] port: {listen}:{port} is already in use (another process listens "
                "there, perhaps a nubis-api already running)"
            ]
        if exc.errno == errno.EADDRNOTAVAIL:
            return [f"[api] listen: {listen} is not an address of this host"]
        if exc.errno == errno.EACCES:
            return [f"[api] port: {port} needs privileges this process lacks; use 1024 or above"]
        return [f"[api] listen/port: cannot listen on {listen}:{port}: {exc.strerror or exc}"]
    finally:
        sock.close()
    return []


def policy_problems(conf: cfg.ConfigOpts) -> list[str]:
    """One line per policy file (``[oslo_policy] policy_file``, ``policy_dirs``) that
    does not parse: nubis-api reads it at the first request that needs a rule."""
    from oslo_policy import opts as policy_opts
    from oslo_policy import policy as oslo_policy

    policy_opts.set_defaults(conf)
    files = []
    found = conf.find_file(str(conf.oslo_policy.policy_file))
    if found:
        files.append(("policy_file", found))
    for directory in conf.oslo_policy.policy_dirs:
        where = conf.find_file(directory)
        if where and os.path.isdir(where):
            files.extend(
                ("policy_dirs", os.path.join(where, entry))
                for entry in sorted(os.listdir(where))
                if os.path.isfile(os.path.join(where, entry))
            )
    problems_found = []
    for option, path in files:
        try:
            with open(path, encoding="utf-8") as f:
                oslo_policy.parse_file_contents(f.read())
        except (OSError, ValueError) as exc:
            problems_found.append(
                f"[oslo_policy] {option}: {path} is not a valid policy file: {_parse_error(exc)}"
            )
    return problems_found


def _parse_error(exc: Exception) -> str:
    """A YAML/JSON parse error in one line: what went wrong and where (line, column)."""
    text = str(exc)
    said = [line.strip() for line in text.splitlines() if line.strip() and not line[0].isspace()]
    marks = re.findall(r"line (\d+), column (\d+)", text)
    where = f" (line {marks[-1][0]}, column {marks[-1][1]})" if marks else ""
    return ("; ".join(said) or type(exc).__name__) + where


# --- corrections -------------------------------------------------------------------------


def fix_service_down_time(conf: cfg.ConfigOpts) -> None:
    """Raise service_down_time to 2.5 x report_interval when it is not above it."""
    if conf.service_down_time <= conf.report_interval:
        new = int(conf.report_interval * 2.5)
        LOG.warning(
            "service_down_time (%s) must be greater than report_interval (%s); using %s",
            conf.service_down_time,
            conf.report_interval,
            new,
        )
        conf.set_override("service_down_time", new)
