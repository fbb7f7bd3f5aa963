"""The manager suite finds what a manager does not serve of its RPC API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conformance.kit import plugins as cf


@pytest.fixture
def installed(plugin_dist: Callable[..., Path]) -> None:
    plugin_dist(cf.MODULES, cf.ENTRY_POINTS)


def test_missing_and_wrong_rpc_methods_are_named(
    installed: None, pytester: pytest.Pytester
) -> None:
    result = pytester.runpytest(
        "--nubis-conformance=nubis.managers:cfhalf", "-k", "contract or serves_its_rpc_api"
    )
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert (
        "ConductorAPI.object_class_action_versions() at cap 1.0 sends "
        "object_class_action_versions(); HalfConductor has no such method" in out
    )
    assert (
        "ConductorAPI.object_action() at cap 1.0 sends object_action(args, kwargs, objinst, "
        "objmethod); HalfConductor.object_action() does not accept it" in out
    )
    assert "no endpoint serves ComputeTaskAPI (namespace compute_task)" in out
    assert "object_backport_versions()" not in out, "a method served correctly was reported"


def test_a_version_the_rpc_api_does_not_have_is_refused(
    installed: None, pytester: pytest.Pytester
) -> None:
    result = pytester.runpytest(
        "--nubis-conformance=nubis.managers:cffuture", "-k", "serves_its_rpc_api"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*FutureConductor claims 1.7 for ConductorAPI (namespace none), which knows versions "
            "up to 1.0*"
        ]
    )
