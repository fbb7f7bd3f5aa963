"""The ``[upgrade_levels]`` verdicts of ``nubis-status upgrade check``, one per rule.

The caps are real options on the global CONF (the ``flags`` fixture); the live
services are records as the check reads them from the database.
"""

from __future__ import annotations

import pytest

from nubis.core import binaries, version
from nubis.core.cmd import status_rpc
from nubis.core.cmd.status import ServiceRecord
from nubis.core.conf import CONF, upgrade_levels

Code = status_rpc.Code
NEWEST_COMPUTE = status_rpc.CLIENTS["compute"].VERSION


def compute(host: str, service_version: int) -> ServiceRecord:
    return ServiceRecord(host, binaries.COMPUTE, service_version, forced_down=False)


# Service version 2 understands compute 1.1; this code speaks compute 1.6.
OLD = [compute("h1", 2), compute("h2", version.SERVICE_VERSION)]
CURRENT = [compute("h1", version.SERVICE_VERSION)]


def test_every_upgrade_levels_option_has_its_rpcapi_client() -> None:
    assert sorted(status_rpc.CLIENTS) == sorted(upgrade_levels.RPC_APIS)
    for name, client in status_rpc.CLIENTS.items():
        assert client.VERSION == version.rpc_version_for(version.SERVICE_VERSION, name)


def test_the_rules_below_assume_compute_grew_since_service_version_2() -> None:
    assert version.rpc_version_for(2, "compute") == "1.1"
    assert NEWEST_COMPUTE == "1.6"


@pytest.mark.parametrize(
    ("cap", "services", "code", "words"),
    [
        # Unset: fine unless a live receiver understands less than this code sends.
        (None, CURRENT, Code.SUCCESS, "compute unset (sends up to 1.6)"),
        (None, [], Code.SUCCESS, "compute unset"),
        (None, OLD, Code.WARNING, "nubis-compute on h1 (version 2) understands only 1.1"),
        # auto: resolves to the oldest live receiver; nobody recorded is a warning.
        ("auto", OLD, Code.SUCCESS, "compute = auto (resolves to 1.1)"),
        ("auto", [], Code.WARNING, "no live nubis-compute is recorded: senders cap at 1.0"),
        # Explicit caps.
        ("1.1", OLD, Code.SUCCESS, "compute = 1.1"),
        ("1.2", OLD, Code.FAILURE, "= 1.2, but nubis-compute on h1 (version 2) understands"),
        ("1.0", CURRENT, Code.WARNING, "holds messages below 1.6"),
        ("1.0", [], Code.SUCCESS, "compute = 1.0"),
        ("1.7", CURRENT, Code.FAILURE, "newer than this code's compute API (1.6)"),
        ("2.0", CURRENT, Code.FAILURE, "refuses every message: this code speaks compute 1.0 to"),
        ("0.9", [], Code.FAILURE, "refuses every message"),
        ("banana", CURRENT, Code.FAILURE, "'banana' is neither 'auto' nor a version"),
        ("1.2.3", CURRENT, Code.FAILURE, "is neither 'auto' nor a version"),
    ],
)
def test_compute_cap(flags, cap, services, code, words) -> None:
    flags(group="upgrade_levels", compute=cap)
    got, sentence = status_rpc.judge(CONF, "compute", services)
    assert (got, words in sentence) == (code, True), sentence
    assert "\n" not in sentence


def test_services_of_other_binaries_are_not_receivers() -> None:
    scheduler = ServiceRecord("s1", binaries.SCHEDULER, 0, forced_down=False)
    assert status_rpc.judge(CONF, "compute", [scheduler])[0] == Code.SUCCESS


def test_baseapi_is_received_by_every_service(flags) -> None:
    flags(group="upgrade_levels", baseapi="auto")
    scheduler = ServiceRecord("s1", binaries.SCHEDULER, version.SERVICE_VERSION, False)
    assert status_rpc.judge(CONF, "baseapi", [scheduler]) == (
        Code.SUCCESS,
        "baseapi = auto (resolves to 1.0)",
    )
    code, sentence = status_rpc.judge(CONF, "baseapi", [])
    assert code == Code.WARNING and "no live service is recorded" in sentence


def test_a_scheduler_cap_names_its_only_version(flags) -> None:
    flags(group="upgrade_levels", scheduler="0.9")
    assert status_rpc.judge(CONF, "scheduler", None) == (
        Code.FAILURE,
        "[upgrade_levels] scheduler = 0.9 refuses every message: this code speaks "
        "scheduler only 1.0; use auto or one of those versions",
    )


def test_all_caps_agree_is_a_success_naming_each(flags) -> None:
    flags(group="upgrade_levels", compute="auto")
    result = status_rpc.check_upgrade_levels(CONF, CURRENT)
    assert result.code == Code.SUCCESS
    assert result.details is not None
    assert "compute = auto (resolves to 1.6)" in result.details
    assert "scheduler unset" in result.details


def test_only_problems_are_reported_and_the_worst_code_wins(flags) -> None:
    flags(group="upgrade_levels", compute="1.2", scheduler="auto")
    result = status_rpc.check_upgrade_levels(CONF, OLD)
    assert result.code == Code.FAILURE
    assert result.details is not None
    assert "compute = 1.2, but" in result.details
    assert "scheduler = auto, but no live nubis-scheduler" in result.details
    assert "baseapi" not in result.details


def test_without_services_only_the_values_are_judged(flags) -> None:
    flags(group="upgrade_levels", compute="auto")
    result = status_rpc.check_upgrade_levels(CONF, None)
    assert result.code == Code.WARNING
    assert result.details is not None
    assert "not compared with the running services" in result.details
