"""``nubis-manage service ...``: the operator's view of services and their liveness.

* ``service list`` — one line per service record: host, binary, topic, status
  (``enabled`` or ``disabled`` with its reason), state (``up``/``down`` as the
  configured servicegroup driver and ``forced_down`` say), forced_down, and the last
  time the service showed it was alive (UTC, from the driver);
* ``service disable HOST BINARY [--reason R]`` / ``service enable HOST BINARY`` — take
  a service out of scheduling or put it back;
* ``service force-down HOST BINARY [--unset]`` — declare a service down whatever its
  driver says (fencing before evacuation), or lift that;
* ``service ping HOST BINARY [--timeout S]`` — ask the running service itself, over
  the message bus: an RPC call of the base API's ``ping`` on ``Target([<service>]
  topic, server=HOST)`` (:func:`nubis.core.rpc.probe.ping`), all of it within S
  seconds (default 5). Exit status 0 and ``nubis-compute on h1: answered in 3 ms`` when
  it answers; 1 and one line on stderr when it does not (``error: no answer from
  nubis-compute on h9 (topic compute) within 5 s``, an unknown binary, a message bus
  that cannot be reached). A liveness probe for systemd or Kubernetes: it needs the
  bus, not the database.

The others work on ``[database] connection`` directly. An unknown host or binary is
one line on stderr (``error: no nubis-compute service on host h9``) and exit status 2.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any

from nubis.core import exception
from nubis.core.conf import CONF
from nubis.core.context import get_admin_context


def _record(host: str, binary: str) -> Any:
    from nubis.core import objects
    from nubis.core.objects.service import Service

    objects.register_all()
    record = Service.get_by_host_and_binary(get_admin_context(), host, binary)
    if record is None:
        raise exception.HostBinaryNotFound(host=host, binary=binary)
    return record


def _when(value: datetime.datetime | None) -> str:
    if value is None:
        return "never"
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _status(record: Any) -> str:
    if not record.disabled:
        return "enabled"
    return f"disabled ({record.disabled_reason})" if record.disabled_reason else "disabled"


def service_list() -> int:
    from nubis.core import objects
    from nubis.core.objects.service import ServiceList
    from nubis.core.servicegroup.api import API

    objects.register_all()
    records = ServiceList.get_all(get_admin_context())
    if not records:
        print("no services")
        return 0
    api = API(CONF)
    try:
        rows = [
            (
                r.host or "",
                r.binary or "",
                r.topic or "",
                _status(r),
                "up" if api.is_up(r) else "down",
                "yes" if r.forced_down else "no",
                _when(api.get_updated_time(r)),
            )
            for r in records
        ]
    finally:
        api.driver.cleanup()
    header = (
        "Host",
        "Binary",
        "Topic",
        "Status",
        f"State ({CONF.servicegroup.driver})",
        "Forced down",
        "Last seen up (UTC)",
    )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def service_disable() -> int:
    record = _record(CONF.category.service_host, CONF.category.service_binary)
    record.disabled = True
    record.disabled_reason = CONF.category.reason
    record.save()
    print(f"{record.binary} on {record.host}: {_status(record)}")
    return 0


def service_enable() -> int:
    record = _record(CONF.category.service_host, CONF.category.service_binary)
    record.disabled = False
    record.disabled_reason = None
    record.save()
    print(f"{record.binary} on {record.host}: enabled")
    return 0


def service_force_down() -> int:
    record = _record(CONF.category.service_host, CONF.category.service_binary)
    record.forced_down = not CONF.category.unset
    record.save()
    verdict = "forced down" if record.forced_down else "no longer forced down"
    print(f"{record.binary} on {record.host}: {verdict}")
    return 0


def service_ping() -> int:
    from nubis.core.rpc import probe

    host, binary = CONF.category.service_host, CONF.category.service_binary
    try:
        seconds = probe.ping(CONF, host, binary, CONF.category.timeout)
    except probe.PingFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{binary} on {host}: answered in {seconds * 1000:.0f} ms")
    return 0


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 3600:  # also rejects nan and inf
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds in (0, 3600]")
    return seconds


def add_parsers(subparsers: Any) -> None:
    """Add ``service list|disable|enable|force-down|ping`` to nubis-manage's sub-commands."""
    parser = subparsers.add_parser("service", help="services and their liveness")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="list services with status and state").set_defaults(
        func=service_list
    )

    def host_binary(action: Any) -> None:
        action.add_argument("service_host", metavar="HOST", help="the service's host")
        action.add_argument("service_binary", metavar="BINARY", help="e.g. nubis-compute")

    disable = sub.add_parser("disable", help="take a service out of scheduling")
    host_binary(disable)
    disable.add_argument("--reason", help="why, shown by service list")
    disable.set_defaults(func=service_disable)

    enable = sub.add_parser("enable", help="put a disabled service back")
    host_binary(enable)
    enable.set_defaults(func=service_enable)

    force = sub.add_parser("force-down", help="declare a service down whatever its driver says")
    host_binary(force)
    force.add_argument("--unset", action="store_true", help="lift forced_down instead")
    force.set_defaults(func=service_force_down)

    ping = sub.add_parser("ping", help="ask a running service over the message bus (exit 0/1)")
    host_binary(ping)
    ping.add_argument(
        "--timeout",
        type=_seconds,
        default=5.0,
        help="seconds to wait for the bus and the answer, in all (default 5)",
    )
    ping.set_defaults(func=service_ping)
