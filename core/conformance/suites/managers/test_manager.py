"""The manager contract: it serves every method of its service's RPC API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from oslo_messaging import _utils as messaging_utils

from nubis.core.conformance import deployment, harness
from nubis.core.conformance.suites.managers import rpcapi
from nubis.core.conformance.suites.managers.fixtures import ManagerUnderTest


def _endpoint(manager: ManagerUnderTest, namespace: str | None) -> Any:
    """The endpoint of the manager serving *namespace* (None: the manager itself)."""
    for endpoint in [manager.instance, *getattr(manager.instance, "additional_endpoints", [])]:
        target = getattr(endpoint, "target", None)
        if target is not None and getattr(target, "namespace", None) == namespace:
            return endpoint
    return None


def _accepts(func: Any, kwargs: tuple[str, ...]) -> str | None:
    import inspect

    try:
        inspect.signature(func).bind(object(), **{k: None for k in kwargs})
    except TypeError as exc:
        return str(exc)
    return None


def test_manager_names_its_service(nubis_manager: ManagerUnderTest) -> None:
    service = nubis_manager.cls.service_name
    assert isinstance(service, str) and service, "service_name is empty"
    assert service in deployment.service_groups(nubis_manager.conf), (
        f"service_name {service!r} names no option group with 'manager' and 'topic'"
    )
    version = getattr(nubis_manager.cls.target, "version", None)
    assert isinstance(version, str) and version.count(".") == 1, (
        f"target.version must be 'X.Y', got {version!r}"
    )


def test_manager_serves_its_rpc_api_at_the_version_it_claims(
    nubis_manager: ManagerUnderTest,
) -> None:
    service = nubis_manager.cls.service_name
    clients = rpcapi.clients_of(service)
    if not clients:
        harness.skip(
            harness.NOT_APPLICABLE,
            f"no rpcapi client serves service {service!r}",
        )
    problems: list[str] = []
    checked = 0
    for client in clients:
        endpoint = _endpoint(nubis_manager, client.NAMESPACE)
        where = f"{client.__name__} (namespace {client.NAMESPACE or 'none'})"
        if endpoint is None:
            problems.append(f"no endpoint serves {where}")
            continue
        claimed = str(endpoint.target.version)
        if claimed.split(".")[0] != client.VERSION.split(".")[0] or rpcapi._tuple(
            claimed
        ) > rpcapi._tuple(client.VERSION):
            problems.append(
                f"{type(endpoint).__name__} claims {claimed} for {where}, which knows "
                f"versions up to {client.VERSION}"
            )
            continue
        for cap in rpcapi.versions_up_to(claimed):
            messages, driven = rpcapi.drive(client, cap, nubis_manager.conf)
            problems.extend(driven)
            for msg in messages:
                checked += 1
                name = f"{client.__name__}.{msg.client_method}() at cap {cap}"
                if not messaging_utils.version_is_compatible(claimed, msg.version):
                    problems.append(f"{name} sends {msg.method} {msg.version}, beyond {claimed}")
                    continue
                func = getattr(endpoint, msg.method, None)
                if msg.method.startswith("_") or not callable(func):
                    problems.append(
                        f"{name} sends {msg.method}(); {type(endpoint).__name__} has no such method"
                    )
                    continue
                mismatch = _accepts(func, msg.kwargs)
                if mismatch:
                    problems.append(
                        f"{name} sends {msg.method}({', '.join(msg.kwargs)}); "
                        f"{type(endpoint).__name__}.{msg.method}() does not accept it: {mismatch}"
                    )
    assert not problems, "; ".join(sorted(set(problems)))
    assert checked, "no message was checked"


def test_manager_runs_as_its_service_and_answers(
    nubis_target: harness.TargetRun, nubis_flags: Callable[..., None], tmp_path: Path
) -> None:
    from nubis.core.context import get_admin_context
    from nubis.core.rpc.baseapi import BaseAPI

    cls = nubis_target.plugin
    with deployment.embedded(nubis_flags, tmp_path) as cloud:
        if cls.service_name != "conductor":
            cloud.start("conductor")
        service = cloud.start(cls.service_name, manager=nubis_target.subject.name)
        answer = BaseAPI(service.topic).ping(get_admin_context(), "conformance", timeout=10)
        assert answer, f"{cls.service_name} did not answer a ping"
