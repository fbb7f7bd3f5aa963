"""Planted faults: broken plugins of every namespace, each caught with a message naming it.

The plugin author never sees these: they are the kit's own check that its verdicts
can be trusted. Each plugin below breaks one promise of its contract in a way a real
plugin could, and each test runs the kit on it (a pytester session, real services
where the suite uses them: the db membership driver on SQLite, the compute service,
the in-process transport) and checks that the run fails -- or, for a fault the target
cannot exercise, is incomplete and does not pass -- with a message that names the
fault.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nubis.core import plugins
from nubis.core.virt import driver as virt_driver
from tests.conformance.kit.conftest import load_report, target_of

SOURCES = {
    "cfp_servicegroup": '''
from nubis.plugins.servicegroup.db import DbDriver


class AlwaysUpDriver(DbDriver):
    """Reports every member up, whatever it did."""

    def is_up(self, service_ref):
        return True


class LossyDriver(DbDriver):
    """get_all() loses the last member of every group."""

    def get_all(self, group):
        return sorted(super().get_all(group))[:-1]
''',
    "cfp_tasks": """
from nubis.core.compute.host import compute_host_of
from nubis.core.periodic import periodic_task


@periodic_task(spacing=60)
def cfp_raising(manager, context):
    compute_host_of(manager, "cfp_raising")  # refuses any other manager, as it should
    raise RuntimeError("the audit lost its database cursor")
""",
    "cfp_scheduler": '''
import math

from nubis.core.scheduler.filters import BaseHostFilter
from nubis.core.scheduler.weighers import BaseHostWeigher


class MutatingFilter(BaseHostFilter):
    """Claims the RAM it lets through, on the scheduler's own host state."""

    def host_passes(self, host_state, spec, /):
        host_state.free_ram_mb -= spec.memory_mb or 0
        return True


class NotBoolFilter(BaseHostFilter):
    def host_passes(self, host_state, spec, /):
        return host_state.free_ram_mb  # a number, not a verdict


class OneArgFilter(BaseHostFilter):
    def host_passes(self, host):
        return True


class RenamedFilter(BaseHostFilter):
    """Other names, same arity: nubis passes both by position, so this is fine."""

    def host_passes(self, host, request_spec):
        return bool(host.service_up)


class NaNWeigher(BaseHostWeigher):
    def weigh(self, host_state, spec, /):
        return host_state.free_ram_mb / host_state.memory_mb if host_state.memory_mb else math.nan
''',
    "cfp_virt": '''
from nubis.core import exception
from nubis.core.virt.driver import ComputeDriver
from nubis.plugins.virt.fake import FakeDriver


class HalfDriver(ComputeDriver):
    """Most methods missing, and a capability nobody defined."""

    capabilities = {"supports_teleportation": True}

    def init_host(self, host):
        pass

    def cleanup_host(self, host):
        pass

    def get_host_ip_addr(self):
        return "127.0.0.1"


class LyingDriver(FakeDriver):
    """Declares no live migration, yet answers the checks as if it could migrate."""

    capabilities = {**FakeDriver.capabilities, "supports_live_migration": False}


class UnfinishedDriver(FakeDriver):
    """Declares live migration; live_migration() itself is not written."""

    def live_migration(self, *args, **kwargs):
        raise NotImplementedError("copying memory comes next sprint")
''',
    "cfp_transport": '''
from nubis.plugins.transports.inproc import InProcDriver


class CastDroppingDriver(InProcDriver):
    """inproc, except that a message nobody waits a reply for is dropped."""

    def send(self, target, ctxt, message, wait_for_reply=None, *args, **kwargs):
        if not wait_for_reply:
            return None
        return super().send(target, ctxt, message, wait_for_reply, *args, **kwargs)
''',
}

ENTRY_POINTS = {
    "nubis.servicegroup": {
        "cfp_alwaysup": "cfp_servicegroup:AlwaysUpDriver",
        "cfp_lossy": "cfp_servicegroup:LossyDriver",
    },
    "nubis.periodic_tasks": {"cfp_raising": "cfp_tasks:cfp_raising"},
    "nubis.scheduler.filters": {
        "cfp_mutating": "cfp_scheduler:MutatingFilter",
        "cfp_notbool": "cfp_scheduler:NotBoolFilter",
        "cfp_onearg": "cfp_scheduler:OneArgFilter",
        "cfp_renamed": "cfp_scheduler:RenamedFilter",
    },
    "nubis.scheduler.weighers": {"cfp_nan": "cfp_scheduler:NaNWeigher"},
    "nubis.virt": {
        "cfp_half": "cfp_virt:HalfDriver",
        "cfp_lying": "cfp_virt:LyingDriver",
        "cfp_unfinished": "cfp_virt:UnfinishedDriver",
    },
    "oslo.messaging.drivers": {"cfpdrop": "cfp_transport:CastDroppingDriver"},
}

#: The inner sessions' targets: a peer for live migration, the task on compute; the
#: "bare" variants are the same plugins with nothing but the kit's default target.
CONFTEST = """
from nubis.core.conformance import Target


def pytest_nubis_conformance_targets(config, namespace, plugin):
    if plugin in ("cfp_lying", "cfp_unfinished"):
        return [Target(plugin, extras={"peer_options": {}})]
    if plugin == "cfp_raising":
        return [Target(plugin, extras={"service": "compute"})]
    return None
"""


@pytest.fixture
def planted(plugin_dist: Callable[..., Path], pytester: pytest.Pytester) -> pytest.Pytester:
    plugin_dist(SOURCES, ENTRY_POINTS, name="cf-planted")
    pytester.makeconftest(CONFTEST)
    return pytester


def kit(pytester: pytest.Pytester, selection: str, *args: str) -> pytest.RunResult:
    return pytester.runpytest(f"--nubis-conformance={selection}", "-p", "no:cacheprovider", *args)


def test_always_up_membership_is_caught(planted: pytest.Pytester) -> None:
    result = kit(planted, "nubis.servicegroup:cfp_alwaysup", "-k", "stopped_member_is_down")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*is_up(h1) after it left (service_down_time=3 s): expected False within 4.0s, "
         "observed True*"]
    )  # fmt: skip


def test_lossy_get_all_is_caught(planted: pytest.Pytester) -> None:
    result = kit(planted, "nubis.servicegroup:cfp_lossy", "-k", "get_all_agrees_with_is_up")
    assert result.ret == 1
    assert (
        "get_all() with h1..h4 joined: expected ['h1', 'h2', 'h3', 'h4'] within 5.0s, "
        "observed ['h1', 'h2', 'h3']" in result.stdout.str()
    )


def test_a_raising_periodic_task_is_caught_on_its_service(planted: pytest.Pytester) -> None:
    result = kit(planted, "nubis.periodic_tasks:cfp_raising")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*cfp_raising on a real compute service: expected the first run to end without an "
         "exception, observed RuntimeError: the audit lost its database cursor*"]
    )  # fmt: skip


def test_a_raising_periodic_task_cannot_pass_by_omission(
    plugin_dist: Callable[..., Path], pytester: pytest.Pytester
) -> None:
    plugin_dist(SOURCES, ENTRY_POINTS, name="cf-planted")  # no conftest: no 'service' extra
    result = kit(pytester, "nubis.periodic_tasks:cfp_raising", "--nubis-report-json=r.json")
    assert result.ret == 1, "a task never run on a service must not pass"
    result.stdout.fnmatch_lines(
        [
            "*INCOMPLETE core: test_task_runs_twice_on_its_service: no service lists "
            "cfp_raising in its periodic_tasks, so the task was never run on one; give the "
            "target the 'service' extra (the service whose manager runs the task*",
            "verdict: incomplete -- *",
        ]
    )
    (gap,) = target_of(load_report(pytester.path / "r.json"), "cfp_raising")["gaps"]
    assert gap["extra"] == "service"
    # Accepting a partial run is explicit, and said.
    result = kit(pytester, "nubis.periodic_tasks:cfp_raising", "--nubis-allow-incomplete")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["verdict: incomplete (accepted: --allow-incomplete)"])


def test_a_filter_that_changes_the_host_state_is_caught(planted: pytest.Pytester) -> None:
    result = kit(planted, "nubis.scheduler.filters:cfp_mutating")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*the filter changed the host states it was given: h-new.free_ram_mb: expected 0, "
         "observed -*"]
    )  # fmt: skip


def test_a_filter_answering_with_a_number_is_caught(planted: pytest.Pytester) -> None:
    result = kit(planted, "nubis.scheduler.filters:cfp_notbool")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*host_passes returned 0 (int), not a bool, for HostState*"])


def test_a_weigher_returning_nan_is_caught(planted: pytest.Pytester) -> None:
    result = kit(planted, "nubis.scheduler.weighers:cfp_nan")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*weigh: expected a finite number, observed nan for *h-new*"])


def test_a_signature_nubis_cannot_call_is_caught_and_other_names_are_not(
    planted: pytest.Pytester,
) -> None:
    result = kit(planted, "nubis.scheduler.filters:cfp_onearg")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*CONTRACT nubis.scheduler.filters:cfp_onearg: host_passes() takes 1 positional "
            "argument(s) but nubis passes 2 by position (host_state, spec): expected "
            "host_passes(self, host_state, spec, /), got host_passes(self, host)"
        ]
    )
    # host_passes(self, host, request_spec): the same arity under other names.
    ns = plugins.namespace("nubis.scheduler.filters")
    assert plugins.contract_problems(ns, plugins.load_one(ns.name, "cfp_renamed")) == []
    assert kit(planted, "nubis.scheduler.filters:cfp_renamed").ret == 0


def test_every_contract_problem_is_reported_at_once(planted: pytest.Pytester) -> None:
    result = kit(planted, "nubis.virt:cfp_half", "--nubis-report-json=r.json")
    assert result.ret == 1
    doc = load_report(planted.path / "r.json")
    (entry,) = doc["plugins"]
    problems = entry["contract"]["problems"]
    assert "spawn() is still abstract" in problems and "get_info() is still abstract" in problems
    known = ", ".join(sorted(virt_driver.CAPABILITIES))
    assert f"unknown capabilities supports_teleportation; known: {known}" in problems
    result.stdout.fnmatch_lines(
        ["*CONTRACT nubis.virt:cfp_half: *destroy() is still abstract*unknown capabilities "
         "supports_teleportation*"]
    )  # fmt: skip


def test_an_undeclared_capability_that_is_not_refused_is_caught(planted: pytest.Pytester) -> None:
    result = kit(
        planted, "nubis.virt:cfp_lying", "-k", "refused_honestly", "--nubis-allow-incomplete"
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*test_undeclared_live_migration_is_refused_honestly*",
         "*DID NOT RAISE*LiveMigrationNotSupported*"],
        consecutive=False,
    )  # fmt: skip


def test_not_implemented_is_caught_and_cannot_pass_by_omission(
    planted: pytest.Pytester, plugin_dist: Callable[..., Path]
) -> None:
    result = kit(planted, "nubis.virt:cfp_unfinished", "-k", "live_migration_moves")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*cfp_unfinished.live_migration() raised NotImplementedError (copying memory comes "
            "next sprint); the contract forbids it*",
            "*NOT IMPLEMENTED (raised NotImplementedError): live_migration()",
        ]
    )
    # Without a peer the test cannot run: the run is incomplete, names the extra, and fails.
    (planted.path / "conftest.py").unlink()
    result = kit(planted, "nubis.virt:cfp_unfinished", "-k", "live_migration_moves or contract")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*INCOMPLETE supports_live_migration: test_live_migration_moves_a_running_guest: "
         "cfp_unfinished declares supports_live_migration but its target gives no "
         "peer_options*; give the target the 'peer_options' extra (options of a second host*"]
    )  # fmt: skip


def test_a_transport_that_drops_casts_is_caught(planted: pytest.Pytester) -> None:
    result = kit(
        planted, "oslo.messaging.drivers:cfpdrop", "-k", "cast_is_delivered or call_returns"
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*a cast to the topic: expected one server to receive *, observed none in 10 s*"]
    )
    out = result.stdout.str()
    assert "test_call_returns_result[cfpdrop] PASSED" in out or "1 passed" in out
