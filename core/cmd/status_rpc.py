"""The ``[upgrade_levels]`` check of ``nubis-status upgrade check``.

For each RPC API (the rpcapi clients' ``RPC_API``, one ``[upgrade_levels]`` option
each) the cap is judged against what this code speaks (the client's ``VERSION``) and
what the oldest live service that receives it understands
(:func:`nubis.core.version.rpc_version_for` of its service version):

* failure -- a value that is neither ``auto`` nor ``X.Y``; a cap of another major
  version or below ``X.0`` (every message would be refused with RPCVersionCapError); a
  cap newer than this code's API; a cap newer than a live receiver understands;
* warning -- ``auto`` with no live receiver recorded (senders cap at what a service
  too old to report a version understands, until they restart after one started); no
  cap while a live receiver understands less than this code sends; a cap below what
  every live receiver understands (left over from an upgrade that is done);
* success -- anything else, with what the cap resolves to.

Without the service records (database unreadable, no schema yet) only the values are
judged, and the result is at least a warning saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oslo_config import cfg
from oslo_upgradecheck import upgradecheck

from nubis.core import exception, version
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.conductor.rpcapi import ComputeTaskAPI, ConductorAPI
from nubis.core.conf import upgrade_levels
from nubis.core.rpc import client as rpc_client
from nubis.core.rpc.baseapi import BaseAPI
from nubis.core.scheduler.rpcapi import SchedulerAPI

Code = upgradecheck.Code
Result = upgradecheck.Result

#: The rpcapi client of each ``[upgrade_levels]`` option, by RPC API name.
CLIENTS: dict[str, type[rpc_client.RPCAPIClient]] = {
    client.RPC_API: client
    for client in (BaseAPI, ComputeAPI, ConductorAPI, ComputeTaskAPI, SchedulerAPI)
}


def _tuple(value: str) -> tuple[int, int]:
    major, minor = value.split(".")
    return int(major), int(minor)


def judge(conf: cfg.ConfigOpts, rpc_api: str, services: Sequence[Any] | None) -> tuple[Code, str]:
    """Judge ``[upgrade_levels] <rpc_api>`` of *conf*; return the code and one sentence.

    *services* are the live service records (``binary`` and ``version`` attributes,
    ``str()`` naming them), or None when they could not be read.
    """
    client = CLIENTS[rpc_api]
    option = f"[upgrade_levels] {rpc_api}"
    newest = client.VERSION
    major = _tuple(newest)[0]
    try:
        cap = rpc_client.upgrade_level(conf, rpc_api)
    except exception.ConfigurationError as exc:
        return Code.FAILURE, f"{exception.one_line(exc)}; use auto or a version up to {newest}"
    what = "service" if client.BINARY == "*" else client.BINARY
    receivers = (
        None if services is None else [s for s in services if client.BINARY in ("*", s.binary)]
    )
    oldest = min(receivers, key=lambda s: s.version) if receivers else None
    understood = version.rpc_version_for(oldest.version, rpc_api) if oldest else None

    if cap is None:
        if understood is not None and _tuple(understood) < _tuple(newest):
            return Code.WARNING, (
                f"{option} is unset, so this code sends up to {newest}, but {oldest} "
                f"understands only {understood}: set {rpc_api} = auto (or {understood}) "
                "before the services that send to it restart on this release"
            )
        return Code.SUCCESS, f"{rpc_api} unset (sends up to {newest})"
    if cap == rpc_client.AUTO:
        if receivers is not None and not receivers:
            floor = version.rpc_version_for(0, rpc_api)
            return Code.WARNING, (
                f"{option} = auto, but no live {what} is recorded: senders cap at {floor} "
                f"until they restart after a {what} has started"
            )
        resolved = f" (resolves to {understood})" if understood else ""
        return Code.SUCCESS, f"{rpc_api} = auto{resolved}"
    wanted = _tuple(cap)
    if wanted[0] != major or wanted < (major, 0):
        speaks = f"only {newest}" if newest == f"{major}.0" else f"{major}.0 to {newest}"
        return Code.FAILURE, (
            f"{option} = {cap} refuses every message: this code speaks {rpc_api} "
            f"{speaks}; use auto or one of those versions"
        )
    if wanted > _tuple(newest):
        return Code.FAILURE, (
            f"{option} = {cap} is newer than this code's {rpc_api} API ({newest}); "
            f"use auto or a version up to {newest}"
        )
    if understood is not None and wanted > _tuple(understood):
        return Code.FAILURE, (
            f"{option} = {cap}, but {oldest} understands only {understood}: set "
            f"{rpc_api} = {understood} or auto"
        )
    if understood is not None and wanted < _tuple(understood):
        return Code.WARNING, (
            f"{option} = {cap} holds messages below {understood}, which every live "
            f"{what} understands: raise it or set auto once the upgrade is done"
        )
    return Code.SUCCESS, f"{rpc_api} = {cap}"


def check_upgrade_levels(conf: cfg.ConfigOpts, services: Sequence[Any] | None) -> Result:
    """Judge every ``[upgrade_levels]`` option; the worst code, the sentences that
    matter (only the problems, when there are any)."""
    verdicts = [judge(conf, name, services) for name in upgrade_levels.RPC_APIS]
    code = max(c for c, _ in verdicts)
    problems = [text for c, text in verdicts if c != Code.SUCCESS]
    if services is None:
        code = max(code, Code.WARNING)
        problems.append(
            "not compared with the running services: they cannot be read (see the "
            "Database schema check)"
        )
    if problems:
        return Result(code, "; ".join(problems) + ".")
    return Result(
        code, "Every cap agrees with the live services: " + ", ".join(t for _, t in verdicts) + "."
    )
