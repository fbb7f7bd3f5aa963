"""What the fake driver does for pause, suspend, diagnostics and the host's uptime
beyond the contract: the lifecycle events libvirt would send, the counters of a guest
that does no work, and an uptime counted from init_host."""

from __future__ import annotations

import re
import time
from typing import Any

from nubis.core.virt import events, power_state
from tests.unit.plugins.virt.test_fake import hosts, instance  # noqa: F401


def transitions(drv: Any, seen: list[Any]) -> list[str]:
    drv.flush_events()
    return [e.transition for e in seen if isinstance(e, events.LifecycleEvent)]


def test_events_as_libvirt_sends_them(hosts) -> None:  # noqa: F811
    drv = hosts()
    seen: list[Any] = []
    drv.register_event_listener(seen.append)
    inst = instance()
    drv.spawn(None, inst)
    drv.pause(inst)
    drv.pause(inst)  # left alone: no event
    drv.unpause(inst)
    drv.suspend(None, inst)
    drv.resume(None, inst)
    assert transitions(drv, seen) == [
        events.STARTED,
        events.PAUSED,
        events.RESUMED,
        events.STOPPED,
        events.RESUMED,
    ]
    assert drv.get_info(inst).state == power_state.RUNNING
    # Nothing of it is a boot: the console shows the one boot of the spawn.
    assert drv.get_console_output(inst).count("login: ") == 1


def test_diagnostics_of_a_guest_that_does_no_work(hosts) -> None:  # noqa: F811
    drv = hosts()
    inst = instance(image_ref="img-1")
    drv.spawn(None, inst)
    running = drv.get_diagnostics(inst)
    assert running.state == "running" and running.hypervisor == "fake"
    assert [(c.id, c.time) for c in running.cpu_details] == [(0, 0), (1, 0)]
    assert [(d.name, d.read_bytes) for d in running.disk_details] == [("vda", 0)]
    assert (running.memory_details.maximum, running.memory_details.used) == (512, 512)
    assert running.uptime is not None and 0 <= running.uptime < 5
    drv.suspend(None, inst)
    suspended = drv.get_diagnostics(inst)
    assert suspended.state == "suspended" and suspended.uptime is None
    assert suspended.memory_details.used == 0  # its memory was saved away
    drv.destroy(None, inst)


def test_the_host_is_up_since_init_host(hosts) -> None:  # noqa: F811
    drv = hosts()
    line = drv.get_host_uptime()
    assert re.match(r"^ \d\d:\d\d:\d\d up 0 min,  0 user,  load average: 0.00, 0.00, 0.00$", line)
    drv.host_started_at = time.monotonic() - (2 * 86400 + 3 * 3600 + 4 * 60 + 5)
    assert " up 2 days,  3:04,  0 user," in drv.get_host_uptime()
