"""ComputeAPI's version caps: explicit, and ``auto`` from the oldest nubis-compute."""

from __future__ import annotations

import uuid

import pytest

from nubis.core import version
from nubis.core.compute.rpcapi import ComputeAPI


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
