"""LiveMigrationJob's recovery of a source guest left paused by a migration that did
not complete.

QEMU pauses the source for the switch-over; an abort or failure at that moment
sometimes leaves it paused (seen about once in twenty completion-timeout runs against
real libvirtd, so not something a real server can be made to do on demand). The
domain here is a stand-in that does exactly that.
"""

from __future__ import annotations

import logging
from typing import Any

import libvirt

from nubis.core.virt import migration as lm
from nubis.plugins.virt.libvirt.migration import LiveMigrationJob


class Domain:
    """Enough of virDomain for LiveMigrationJob: the migration pauses the guest, then
    ends as *outcome* says ("fail": raises, "complete": the guest leaves this host)."""

    def __init__(self, outcome: str, state: int = libvirt.VIR_DOMAIN_RUNNING) -> None:
        self.outcome = outcome
        self._state = state
        self.resumed = 0
        self.resume_error: str | None = None

    def UUIDString(self) -> str:  # noqa: N802 - libvirt's name
        return "7b0c2f6e-0000-4000-8000-000000000001"

    def state(self) -> list[int]:
        if self._state == -1:
            raise libvirt.libvirtError("Domain not found")
        return [self._state, 0]

    def migrateToURI3(self, uri: str, params: dict[str, Any], flags: int) -> None:  # noqa: N802
        if self._state == libvirt.VIR_DOMAIN_RUNNING:
            self._state = libvirt.VIR_DOMAIN_PAUSED  # the switch-over
        if self.outcome == "fail":
            raise libvirt.libvirtError("operation failed: migration out job: canceled by client")
        self._state = -1  # UNDEFINE_SOURCE: the guest is gone from here

    def jobStats(self) -> dict[str, Any]:  # noqa: N802
        return {"type": libvirt.VIR_DOMAIN_JOB_NONE}

    def abortJob(self) -> None:  # noqa: N802
        raise libvirt.libvirtError("no job is active on the domain")

    def resume(self) -> None:
        if self.resume_error:
            raise libvirt.libvirtError(self.resume_error)
        self.resumed += 1
        self._state = libvirt.VIR_DOMAIN_RUNNING


def run(dom: Domain) -> tuple[str, str]:
    job = LiveMigrationJob(dom, "qemu+tcp://dest/system", {}, None, interval=0.01, timeout=0)
    return job.run()


def test_a_failed_migration_resumes_the_guest_it_left_paused(caplog: Any) -> None:
    dom = Domain("fail")
    with caplog.at_level(logging.WARNING):
        result, error = run(dom)
    assert result == lm.RESULT_FAILED and "canceled by client" in error
    assert dom.resumed == 1 and dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert "left the guest paused on the source; resumed it" in caplog.text


def test_a_guest_paused_before_the_migration_stays_paused() -> None:
    dom = Domain("fail", state=libvirt.VIR_DOMAIN_PAUSED)
    result, _ = run(dom)
    assert result == lm.RESULT_FAILED
    assert dom.resumed == 0 and dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED


def test_a_completed_migration_touches_nothing() -> None:
    dom = Domain("complete")
    assert run(dom) == (lm.RESULT_COMPLETED, "")
    assert dom.resumed == 0


def test_a_failed_resume_is_logged_and_the_outcome_kept(caplog: Any) -> None:
    message = "Requested operation is not valid: domain is not paused"
    dom = Domain("fail")
    dom.resume_error = message
    with caplog.at_level(logging.ERROR):
        result, error = run(dom)
    assert result == lm.RESULT_FAILED and "canceled by client" in error
    assert f"resuming it failed: {message}" in caplog.text


# --- the parameters of the migration: the console log on the destination -------------------


class Defined:
    """A virDomain stand-in that only answers XMLDesc (what migration_params reads)."""

    def __init__(self, xml: str) -> None:
        self.xml = xml

    def XMLDesc(self, flags: int) -> str:  # noqa: N802 - libvirt's name
        assert flags == libvirt.VIR_DOMAIN_XML_MIGRATABLE
        return self.xml


def _guest(console_log: str | None) -> str:
    from nubis.plugins.virt.libvirt import guest_xml

    spec = guest_xml.GuestSpec(
        uuid="7b0c2f6e-0000-4000-8000-000000000002",
        name="instance-00000002",
        memory_mb=64,
        vcpus=1,
        domain_type="kvm",
        console_log=console_log,
    )
    return guest_xml.domain_xml(spec)


def test_a_console_log_in_another_directory_goes_in_the_destination_xml() -> None:
    from nubis.plugins.virt.libvirt import guest_xml
    from nubis.plugins.virt.libvirt.migration import migration_params

    dom = Defined(_guest("/a/7b0c/console.log"))
    params = migration_params(dom, 0, "/b/7b0c/console.log")
    assert set(params) == {
        libvirt.VIR_MIGRATE_PARAM_DEST_XML,
        libvirt.VIR_MIGRATE_PARAM_PERSIST_XML,
    }
    for xml in params.values():
        assert guest_xml.console_log_path(xml) == "/b/7b0c/console.log"
    # The same file on both hosts, or a guest without a log: the guest's own XML.
    assert migration_params(dom, 5, "/a/7b0c/console.log") == {
        libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 5
    }
    assert migration_params(Defined(_guest(None)), 0, "/b/7b0c/console.log") == {}
