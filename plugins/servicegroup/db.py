"""``db``: liveness from state reports saved in the service record.

Every ``report_interval`` seconds (the first report after a short initial delay) a
joined service increments ``report_count`` through its Service object — on
nubis-compute that save travels to the conductor — and the database stamps
``last_seen_up`` whenever the count grows. A service is up while ``last_seen_up`` is
younger than ``service_down_time``.

When a report fails (conductor or database away) the driver logs one error and marks
the service disconnected; the first report that succeeds again logs one recovery
line. A report never waits longer than the RPC call under it allows.
"""

from __future__ import annotations

import datetime
import logging
import threading
from typing import Any

from oslo_config import cfg
from oslo_utils import timeutils

from nubis.core import exception
from nubis.core.context import get_admin_context
from nubis.core.servicegroup.driver import ServiceGroupDriver
from nubis.core.servicegroup.reporter import ReportLoop

LOG = logging.getLogger(__name__)

INITIAL_REPORT_DELAY = 1.0


class _Reporter:
    """Reports one service's state on its own :class:`ReportLoop` thread."""

    def __init__(self, service: Any, interval: float) -> None:
        self.service = service
        self.disconnected = False
        self._loop = ReportLoop(
            f"nubis-report-{service.binary}",
            interval,
            self.report,
            initial_delay=min(INITIAL_REPORT_DELAY, interval),
        )

    @property
    def reports(self) -> int:
        return self._loop.reports

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def report(self) -> bool:
        """Save one state report; log the first failure and the recovery once each."""
        ref = self.service.service_ref
        try:
            ref.report_count += 1
            ref.save()
        except Exception as exc:
            if not self.disconnected:
                self.disconnected = True
                LOG.error(
                    "%s on %s: state report failed, the conductor or database is unreachable: %s",
                    self.service.binary,
                    self.service.host,
                    exception.one_line(exc),
                )
            return False
        if self.disconnected:
            self.disconnected = False
            LOG.info(
                "%s on %s: state reports succeed again", self.service.binary, self.service.host
            )
        return True


class DbDriver(ServiceGroupDriver):
    """Membership from ``last_seen_up`` in the services table."""

    capabilities = {"reports_through_conductor": True}

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        self._reporters: dict[tuple[str, str], _Reporter] = {}
        self._lock = threading.Lock()

    def join(self, member: str, group: str, service: Any = None) -> None:
        if service is None or service.service_ref is None:
            raise ValueError("the db driver reports through a running service's record")
        with self._lock:
            if (member, group) in self._reporters:
                return
            reporter = _Reporter(service, service.report_interval)
            self._reporters[(member, group)] = reporter
        reporter.start()

    def leave(self, member: str, group: str, service: Any = None) -> None:
        with self._lock:
            reporter = self._reporters.pop((member, group), None)
        if reporter is not None:
            reporter.stop()

    def reporter(self, member: str, group: str) -> _Reporter | None:
        """Return the reporter of a joined member (for tests and diagnostics)."""
        return self._reporters.get((member, group))

    def is_up(self, service_ref: Any) -> bool:
        last = service_ref.last_seen_up or service_ref.updated_at or service_ref.created_at
        if last is None:
            return False
        elapsed = (timeutils.utcnow(with_timezone=True) - _aware(last)).total_seconds()
        return abs(elapsed) <= self.conf.service_down_time

    def get_all(self, group: str) -> list[str]:
        from nubis.core.objects.service import ServiceList

        # One query of host names, the same rule as is_up applied in SQL.
        return ServiceList.get_hosts_by_topic(
            get_admin_context(), group, seen_within=self.conf.service_down_time
        )

    def cleanup(self) -> None:
        with self._lock:
            reporters = list(self._reporters.values())
            self._reporters.clear()
        for reporter in reporters:
            reporter.stop()


def _aware(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value
