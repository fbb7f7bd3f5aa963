"""The scaffold's environment templates: how the kit runs a generated plugin (its
targets, and for membership and virt drivers the options, fault and peer fixtures)."""

ENV_HEAD = '''\
"""How the nubis conformance kit runs ``$namespace:$name``.

Registered under the entry point group ``nubis.conformance.environments`` (see
pyproject.toml): the kit loads it when it runs, and only then. It answers the kit's
hook with this plugin's targets -- the ways to run it -- and None for any other
plugin.
"""

from __future__ import annotations

'''

ENV_PLAIN = (
    ENV_HEAD
    + """\
from typing import Any

from nubis.core.conformance import Target


def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    if (namespace, plugin) != ("$namespace", "$name"):
        return None  # someone else's plugin
    return [Target("$name")]
"""
)

ENV_PERIODIC = (
    ENV_HEAD
    + """\
from typing import Any

from nubis.core.conformance import Target


def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    if (namespace, plugin) != ("$namespace", "$name"):
        return None  # someone else's plugin
    # "service": the service whose manager runs the task; without it the kit cannot
    # run the task for real, and the verdict is incomplete.
    return [Target("$name", extras={"service": "compute"})]
"""
)

ENV_SERVICEGROUP = (
    ENV_HEAD
    + '''\
import contextlib
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nubis.core.conformance import Target


def options(request: Any) -> dict[str, dict[str, Any]]:
    """A membership directory of the test's own, removed afterwards."""
    directory = tempfile.mkdtemp(prefix="$name-conformance-")
    request.addfinalizer(lambda: shutil.rmtree(directory, ignore_errors=True))
    return {"$group": {"directory": directory}}


def _directory() -> Path:
    from nubis.core.conf import CONF

    return Path(CONF.$group.directory)


@contextlib.contextmanager
def fault(deployment: Any) -> Iterator[None]:
    """The "server" goes away: the directory is moved aside, then put back."""
    directory = _directory()
    away = directory.with_name(directory.name + ".away")
    directory.rename(away)
    try:
        yield
    finally:
        away.rename(directory)


def left_behind(deployment: Any, host: str) -> str:
    """The member's file, if it is still there ("" when gone)."""
    group = _directory() / urllib.parse.quote(deployment.topic, safe="")
    path = group / urllib.parse.quote(host, safe="")
    return str(path) if path.exists() else ""


def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    if (namespace, plugin) != ("$namespace", "$name"):
        return None  # someone else's plugin
    return [Target("$name", options, {"fault": fault, "left_behind": left_behind})]
'''
)

ENV_VIRT = (
    ENV_HEAD
    + '''\
from typing import Any

from nubis.core.conformance import Target


def options(request: Any) -> dict[str, dict[str, Any]]:
    """The driver's options for one test (its hypervisor, a directory of its own...)."""
    return {"$group": {"host_ip": "127.0.0.1"}}


def peer_options(request: Any) -> dict[str, dict[str, Any]]:
    """The options of a second host, the live-migration destination."""
    return {"$group": {"host_ip": "127.0.0.1"}}


def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    if (namespace, plugin) != ("$namespace", "$name"):
        return None  # someone else's plugin
    # "peer_options": without a second host the live-migration tests cannot run, and a
    # driver declaring supports_live_migration gets the verdict incomplete.
    return [Target("$name", options, {"peer_options": peer_options})]
'''
)

ENV_TRANSPORT = (
    ENV_HEAD
    + """\
from typing import Any

from nubis.core.conformance import Target


def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    if (namespace, plugin) != ("$namespace", "$name"):
        return None  # someone else's plugin
    # "url": the transport URL of your broker (a str, or callable(request) -> str).
    return [Target("$name", extras={"url": "$name://"})]
"""
)


# fmt: off
