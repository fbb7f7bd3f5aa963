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
    assert ComputeAPI.CONSOLE_OUTPUT_VERSION == ComputeAPI.REBUILD_VERSION == "1.3"
    assert ComputeTaskAPI.REBUILD_VERSION == "1.1"
    assert [version.rpc_version_for(v, "compute") for v in (3, 4)] == ["1.2", "1.3"]
    assert [version.rpc_version_for(v, "compute_task") for v in (3, 4)] == ["1.0", "1.1"]


def test_rescue_and_deferred_delete_came_with_service_version_7():
    assert ComputeAPI.VERSION == ComputeAPI.RESCUE_VERSION == "1.6"
    assert ComputeAPI.DEFERRED_DELETE_VERSION == "1.6"
    assert [version.rpc_version_for(v, "compute") for v in (6, 7)] == ["1.5", "1.6"]


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


def test_rescue_and_deferred_delete_are_casts_to_the_host(transport, flags):
    instance = types.SimpleNamespace(host="cmp9")
    sent: list[tuple[str, dict[str, Any]]] = []
    compute = ComputeAPI()
    compute.client = Recording(sent, {})
    compute.rescue_instance(None, instance, rescue_image_ref="img-r")
    compute.unrescue_instance(None, instance)
    compute.soft_delete_instance(None, instance)
    compute.restore_instance(None, instance)
    to_host = {"server": "cmp9", "version": "1.6", "instance": instance}
    assert sent == [
        ("rescue_instance", {**to_host, "rescue_image_ref": "img-r", "clean_shutdown": True}),
        ("unrescue_instance", to_host),
        ("soft_delete_instance", to_host),
        ("restore_instance", to_host),
    ]
    flags(group="upgrade_levels", compute="auto")
    assert not with_oldest(6)().can_send_version(ComputeAPI.RESCUE_VERSION)
    assert with_oldest(7)().can_send_version(ComputeAPI.DEFERRED_DELETE_VERSION)


def test_snapshots_and_shelving_came_with_service_version_6(transport, flags):
    assert ComputeAPI.SNAPSHOT_VERSION == ComputeAPI.SHELVE_VERSION == "1.5"
    assert ComputeTaskAPI.VERSION == ComputeTaskAPI.UNSHELVE_VERSION == "1.2"
    assert [version.rpc_version_for(v, "compute") for v in (5, 6)] == ["1.4", "1.5"]
    assert [version.rpc_version_for(v, "compute_task") for v in (5, 6)] == ["1.1", "1.2"]
    flags(group="upgrade_levels", compute="auto")
    assert not with_oldest(5)().can_send_version(ComputeAPI.SNAPSHOT_VERSION)
    assert with_oldest(6)().can_send_version(ComputeAPI.SHELVE_VERSION)


def test_snapshots_and_shelving_are_casts(transport):
    instance = types.SimpleNamespace(host="cmp9")
    sent: list[tuple[str, dict[str, Any]]] = []
    compute = ComputeAPI()
    compute.client = Recording(sent, {})
    compute.snapshot_instance(None, instance, "img-1")
    compute.backup_instance(None, instance, "img-2", "daily", 3)
    compute.shelve_instance(None, instance, "img-3")
    compute.shelve_offload_instance(None, instance, clean_shutdown=False)
    compute.unshelve_instance(None, instance, "cmp7", node="n7", request_spec="spec")
    task_api = ComputeTaskAPI()
    task_api.client = Recording(sent, {})
    task_api.unshelve_instance(None, instance, "spec")
    to_host = {"server": "cmp9", "version": "1.5", "instance": instance}
    assert sent == [
        ("snapshot_instance", {**to_host, "image_id": "img-1"}),
        (
            "backup_instance",
            {**to_host, "image_id": "img-2", "backup_type": "daily", "rotation": 3},
        ),
        ("shelve_instance", {**to_host, "image_id": "img-3", "clean_shutdown": True}),
        ("shelve_offload_instance", {**to_host, "clean_shutdown": False}),
        (
            "unshelve_instance",
            {**to_host, "server": "cmp7", "node": "n7", "request_spec": "spec"},
        ),
        ("unshelve_instance", {"version": "1.2", "instance": instance, "spec": "spec"}),
    ]


def test_pause_suspend_diagnostics_and_uptime_came_with_service_version_5(transport, flags):
    assert ComputeAPI.PAUSE_VERSION == ComputeAPI.SUSPEND_VERSION == "1.4"
    assert ComputeAPI.DIAGNOSTICS_VERSION == ComputeAPI.HOST_UPTIME_VERSION == "1.4"
    assert [version.rpc_version_for(v, "compute") for v in (4, 5)] == ["1.3", "1.4"]
    flags(group="upgrade_levels", compute="auto")
    assert not with_oldest(4)().can_send_version(ComputeAPI.PAUSE_VERSION)
    assert with_oldest(5)().can_send_version(ComputeAPI.DIAGNOSTICS_VERSION)


def test_pause_and_suspend_are_casts_diagnostics_and_uptime_calls(transport):
    instance = types.SimpleNamespace(host="cmp9")
    sent: list[tuple[str, dict[str, Any]]] = []
    compute = ComputeAPI()
    compute.client = Recording(sent, {})
    compute.pause_instance(None, instance)
    compute.unpause_instance(None, instance)
    compute.suspend_instance(None, instance)
    compute.resume_instance(None, instance)
    assert compute.get_instance_diagnostics(None, instance, timeout=3.0) == "tail"
    assert compute.get_host_uptime(None, "cmp8", timeout=4.0) == "tail"
    to_host = {"server": "cmp9", "version": "1.4", "instance": instance}
    assert sent == [
        ("pause_instance", to_host),
        ("unpause_instance", to_host),
        ("suspend_instance", to_host),
        ("resume_instance", to_host),
        ("get_instance_diagnostics", {**to_host, "timeout": 3.0}),
        ("get_host_uptime", {"server": "cmp8", "version": "1.4", "timeout": 4.0}),
    ]
