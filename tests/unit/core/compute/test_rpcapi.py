"""ComputeAPI's version caps (explicit, and ``auto`` from the oldest nubis-compute) and
what its 1.3 methods, and ComputeTaskAPI's 1.1 rebuild, send."""

from __future__ import annotations

import types
import uuid
from typing import Any

import pytest

from nubis.core import version
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.conductor.rpcapi import ComputeTaskAPI


def with_oldest(service_version: int) -> type[ComputeAPI]:
    class OldestCompute(ComputeAPI):
        minimum_service_version = staticmethod(lambda _ctx, _binary: service_version)

    return OldestCompute


@pytest.fixture
def transport(flags):
    flags(transport_url=f"inproc:///rpcapi-{uuid.uuid4().hex[:8]}")


@pytest.mark.parametrize(
    ("level", "oldest", "cap"),
    [(None, 0, None), ("1.0", 2, "1.0"), ("auto", 1, "1.0"), ("auto", 2, "1.1")],
)
def test_version_cap(transport, flags, level, oldest, cap):
    if level:
        flags(group="upgrade_levels", compute=level)
    api = with_oldest(oldest)()
    assert api.version_cap == cap
    assert api.can_send_version("1.1") is (cap != "1.0")
    assert api.topic == "compute"


def test_the_service_version_history_knows_compute_1_1():
    assert version.rpc_version_for(version.SERVICE_VERSION, "compute") == ComputeAPI.VERSION
    assert version.rpc_version_for(1, "compute") == "1.0"


def test_console_output_and_rebuild_came_with_service_version_4():
    assert ComputeAPI.VERSION == ComputeAPI.CONSOLE_OUTPUT_VERSION == "1.3"
    assert ComputeAPI.REBUILD_VERSION == "1.3"
    assert ComputeTaskAPI.VERSION == ComputeTaskAPI.REBUILD_VERSION == "1.1"
    assert [version.rpc_version_for(v, "compute") for v in (3, 4)] == ["1.2", "1.3"]
    assert [version.rpc_version_for(v, "compute_task") for v in (3, 4)] == ["1.0", "1.1"]


class Recording:
    """Stands for the oslo client: records what prepare() and call()/cast() were given."""

    def __init__(self, sent: list[tuple[str, dict[str, Any]]], prepared: dict[str, Any]):
        self.sent = sent
        self.prepared = prepared

    def prepare(self, **kwargs: Any) -> Recording:
        return Recording(self.sent, kwargs)

    def call(self, ctxt: Any, method: str, **kwargs: Any) -> str:
        self.sent.append((method, {**self.prepared, **kwargs}))
        return "tail"

    def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        self.sent.append((method, {**self.prepared, **kwargs}))


def test_console_output_is_a_call_to_the_host_with_a_timeout(transport):
    api = ComputeAPI()
    sent: list[tuple[str, dict[str, Any]]] = []
    api.client = Recording(sent, {})
    instance = types.SimpleNamespace(host="cmp9")
    assert api.get_console_output(None, instance, tail_length=5, timeout=7.5) == "tail"
    assert sent == [
        (
            "get_console_output",
            {
                "server": "cmp9",
                "version": "1.3",
                "timeout": 7.5,
                "instance": instance,
                "tail_length": 5,
            },
        )
    ]


def test_rebuild_is_a_cast_to_the_host_through_a_conductor(transport):
    instance = types.SimpleNamespace(host="cmp9")
    sent: list[tuple[str, dict[str, Any]]] = []
    task_api = ComputeTaskAPI()
    task_api.client = Recording(sent, {})
    task_api.rebuild_instance(None, instance, "img-2", "img-1", preserve_ephemeral=True)
    compute = ComputeAPI()
    compute.client = Recording(sent, {})
    compute.rebuild_instance(None, instance, "img-2", "img-1")
    arguments = {"instance": instance, "image_ref": "img-2", "orig_image_ref": "img-1"}
    assert sent == [
        ("rebuild_instance", {"version": "1.1", **arguments, "preserve_ephemeral": True}),
        (
            "rebuild_instance",
            {"server": "cmp9", "version": "1.3", **arguments, "preserve_ephemeral": False},
        ),
    ]


def test_a_compute_of_service_version_3_cannot_take_them(transport, flags):
    flags(group="upgrade_levels", compute="auto")
    assert not with_oldest(3)().can_send_version(ComputeAPI.REBUILD_VERSION)
    assert with_oldest(4)().can_send_version(ComputeAPI.CONSOLE_OUTPUT_VERSION)
