"""The ``uptime`` of the detailed hypervisor views from microversion 2.88 (Nova's). No
nubis API serves 2.88 yet (its newest microversion is older), so the view is called
here with a request at 2.88 and stand-ins for the compute API and the servicegroup."""

from __future__ import annotations

import types
from typing import Any

import pytest
from oslo_config import cfg

from nubis.core import exception
from nubis.core.api.microversion import APIVersion
from nubis.core.api.resources import Deps
from nubis.core.api.resources.hypervisors import Hypervisors
from nubis.core.api.wsgi import Request

NODE = types.SimpleNamespace(
    id=1,
    uuid="6a1e9f1c-0000-4000-8000-000000000001",
    host="cmp1",
    hypervisor_hostname="cmp1",
    cpu_info="",
    vcpus=8,
    memory_mb=1024,
    local_gb=10,
    vcpus_used=0,
    memory_mb_used=0,
    local_gb_used=0,
    hypervisor_type="fake",
    hypervisor_version=1000,
    free_ram_mb=1024,
    free_disk_gb=10,
    stats={},
    running_vms=0,
    disk_available_least=10,
    host_ip=None,
)
SERVICE = types.SimpleNamespace(
    id=3, uuid="svc-uuid", forced_down=False, disabled=False, disabled_reason=None
)


class ComputeAPI:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def get_host_uptime(self, context: Any, host: str) -> str:
        self.asked.append(host)
        if isinstance(self.answer, Exception):
            raise self.answer
        return str(self.answer)


def view(version: str, answer: Any, up: bool = True) -> tuple[dict[str, Any], list[str]]:
    compute_api = ComputeAPI(answer)
    deps = Deps(cfg.ConfigOpts(), compute_api=compute_api)
    deps._servicegroup = types.SimpleNamespace(is_up=lambda service: up)
    major, minor = (int(part) for part in version.split("."))
    req = Request(None, deps.conf, None, APIVersion(major, minor), None, None, {})  # type: ignore[arg-type]
    return Hypervisors(deps).view(req, NODE, SERVICE, detail=True), compute_api.asked


def test_from_2_88_the_detailed_view_has_the_host_s_uptime() -> None:
    shown, asked = view("2.88", " 10:00:00 up 3 min,  0 user,  load average: 0.00, 0.00, 0.00")
    assert shown["uptime"].startswith(" 10:00:00 up 3 min") and asked == ["cmp1"]
    before, asked = view("2.87", "never asked")
    assert "uptime" not in before and asked == []


@pytest.mark.parametrize(
    "refusal",
    [
        exception.VirtOperationNotSupported(operation="get_host_uptime", driver="X"),
        exception.ComputeServiceUnavailable(host="cmp1"),
        exception.ServiceUnavailable(what="cmp1", reason="silent"),
    ],
)
def test_a_host_that_cannot_tell_shows_null(refusal: Exception) -> None:
    shown, _ = view("2.88", refusal)
    assert shown["uptime"] is None


def test_a_host_that_is_down_is_not_asked() -> None:
    shown, asked = view("2.88", "never asked", up=False)
    assert shown["uptime"] is None and shown["state"] == "down" and asked == []
