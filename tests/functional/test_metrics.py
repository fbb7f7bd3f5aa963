"""The /metrics endpoint after real work on an in-process cloud.

A conductor, a scheduler and two fake compute hosts (``cmp1``, ``cmp2``) over inproc://
with SQLite, and nubis-api (``noauth``), run under a :class:`~nubis.core.launcher.Launcher`
that serves the process's metrics endpoint on a port the test picks. The test scrapes
``/metrics`` over HTTP, then forces a compute service down and up, builds a server and
live-migrates it through the REST API, asks for a live migration the conductor refuses,
runs one periodic task, and scrapes again: every metric family moved by what that work
adds up to.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from nubis.core import objects, periodic
from nubis.core.api.image_registry import ImageAPI
from nubis.core.api.service import APIService
from nubis.core.conf import CONF
from nubis.core.context import get_admin_context
from nubis.core.launcher import Launcher
from tests.fixtures.inproc_cloud import inproc_services, wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

WAIT = 30.0
VERSION = {"OpenStack-API-Version": "compute 2.60"}


def free_port() -> int:
    """A port free a moment ago; it only says where the test connects."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Scraper:
    """Reads one process's /metrics page over HTTP."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/metrics"

    def text(self) -> str:
        with urllib.request.urlopen(self.url, timeout=10) as reply:
            assert reply.status == 200
            return str(reply.read().decode())

    def samples(self) -> Samples:
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(self.text())
            for s in family.samples
        }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class Cloud:
    """The running cloud's API as two personas of ``noauth``."""

    def __init__(self, url: str, services: dict[str, Any], scraper: Scraper) -> None:
        self.url = url
        self.services = services
        self.scraper = scraper
        self.image_id = ""

    def request(self, persona: str, method: str, path: str, body: Any = None) -> Any:
        headers = {"X-Auth-Token": persona, **VERSION}
        return requests.request(method, self.url + path, json=body, headers=headers, timeout=30)

    def server(self, server_id: str) -> dict[str, Any]:
        response = self.request("admin", "GET", f"/v2.1/servers/{server_id}")
        assert response.status_code == 200, response.text
        return dict(response.json()["server"])

    def list_services(self) -> list[dict[str, Any]]:
        response = self.request("admin", "GET", "/v2.1/os-services")
        assert response.status_code == 200, response.text
        return list(response.json()["services"])

    def wait_for_metric(self, name: str, at_least: float, **labels: str) -> Samples:
        """Scrape until sample *name* with *labels* reaches *at_least*; return the page."""

        def reached() -> Samples:
            samples = self.scraper.samples()
            return samples if value(samples, name, **labels) >= at_least else {}

        found: Samples = wait_for(reached, WAIT, f"{name}{labels} to reach {at_least}")
        return found


@pytest.fixture(scope="module")
def cloud(_migrated_urls: Callable[[str], str], tmp_path_factory: Any) -> Iterator[Cloud]:
    tmp: Path = tmp_path_factory.mktemp("metrics")
    port = free_port()
    options = {
        ("state_path", None): str(tmp),
        ("rpc_response_timeout", None): 10,
        ("port", "api"): 0,
        ("auth_strategy", "api"): "noauth",
        ("images_path", "api"): str(tmp / "images"),
        ("bind_host", "metrics"): "127.0.0.1",
        ("port", "metrics"): port,
    }
    with inproc_services(_migrated_urls("sqlite"), tmp, options=options) as (services, _):
        ctx = get_admin_context()
        wait_for(lambda: len(objects.ComputeNodeList.get_all(ctx)) == 2, what="compute nodes")
        scheduler = services["sched"].manager
        scheduler.refresh_host_states()
        wait_for(lambda: len(scheduler.host_states()) == 2, what="the scheduler's view")
        api = APIService(CONF)
        launcher = Launcher([api], CONF)
        launcher.start()  # nubis-api and this process's metrics endpoint
        try:
            cloud = Cloud(api.url, services, Scraper(port))
            raw = tmp / "tiny.raw"
            raw.write_bytes(b"\0" * (1 << 20))
            cloud.image_id = ImageAPI(CONF).import_file(ctx, "tiny", str(raw)).uuid
            flavor = {"name": "m1.tiny", "id": "m1.tiny", "ram": 512, "vcpus": 1, "disk": 1}
            response = cloud.request("admin", "POST", "/v2.1/flavors", {"flavor": flavor})
            assert response.status_code == 200, response.text
            yield cloud
        finally:
            launcher.stop()
    with pytest.raises(OSError):  # the launcher's stop ended the endpoint
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_metrics_move_with_real_work(cloud: Cloud) -> None:
    compute_topic = str(CONF.compute.topic)
    conductor_topic = str(CONF.conductor.topic)
    before = cloud.scraper.samples()

    # Servicegroup: every service the API lists is up (is_up, one member at a time); a
    # forced-down compute is down in the scheduler's view of its group (get_all).
    cmp2 = next(s for s in cloud.list_services() if s["host"] == "cmp2")
    listed = cloud.scraper.samples()
    up = "nubis_servicegroup_member_up"
    for host in ("cmp1", "cmp2"):
        assert value(listed, up, group=compute_topic, host=host) == 1
    assert value(listed, up, group=conductor_topic, host="cond") == 1
    assert value(listed, up, group=str(CONF.scheduler.topic), host="sched") == 1
    for forced, expected in ((True, 0.0), (False, 1.0)):
        response = cloud.request(
            "admin", "PUT", f"/v2.1/os-services/{cmp2['id']}", {"forced_down": forced}
        )
        assert response.status_code == 200, response.text
        cloud.services["sched"].manager.refresh_host_states()
        seen = cloud.scraper.samples()
        assert value(seen, up, group=compute_topic, host="cmp2") == expected
        assert value(seen, up, group=compute_topic, host="cmp1") == 1

    # A build through the REST API.
    body = {
        "server": {
            "name": "metered",
            "flavorRef": "m1.tiny",
            "imageRef": cloud.image_id,
            "networks": "none",
        }
    }
    response = cloud.request("alice:project-a", "POST", "/v2.1/servers", body)
    assert response.status_code == 202, response.text
    server_id = str(response.json()["server"]["id"])
    built = value(before, "nubis_compute_build_duration_seconds_count", outcome="active") + 1
    cloud.wait_for_metric("nubis_compute_build_duration_seconds_count", built, outcome="active")
    source = wait_for(
        lambda: cloud.server(server_id)["OS-EXT-SRV-ATTR:host"], WAIT, "the server's host"
    )
    target = "cmp2" if source == "cmp1" else "cmp1"

    # A live migration the conductor refuses (to its own host), then one that completes.
    action = f"/v2.1/servers/{server_id}/action"
    refused = {"os-migrateLive": {"host": source, "block_migration": "auto"}}
    response = cloud.request("admin", "POST", action, refused)
    assert response.status_code == 400, response.text
    wait_for(lambda: cloud.server(server_id)["OS-EXT-STS:task_state"] is None, WAIT, "no task")
    moved = {"os-migrateLive": {"host": target, "block_migration": "auto"}}
    response = cloud.request("admin", "POST", action, moved)
    assert response.status_code == 202, response.text
    migrated = (
        value(before, "nubis_compute_live_migration_duration_seconds_count", outcome="completed")
        + 1
    )
    cloud.wait_for_metric(
        "nubis_compute_live_migration_duration_seconds_count", migrated, outcome="completed"
    )
    assert cloud.server(server_id)["OS-EXT-SRV-ATTR:host"] == target

    # A path no route serves.
    assert cloud.request("admin", "GET", "/v2.1/no-such-thing").status_code == 404

    # One periodic task, run by a real runner.
    manager = cloud.services["cmp1"].manager
    spec, task = next(
        (s, t) for s, t in manager.periodic_tasks() if s.name == "update_available_resource"
    )
    runner = periodic.PeriodicRunner([(periodic.TaskSpec(spec.name, 3600.0, True, True), task)])
    runner.start()
    try:
        wait_for(lambda: runner.runs[spec.name] >= 1, WAIT, "the periodic task to run")
    finally:
        runner.stop()

    after = cloud.scraper.samples()

    def moved_by(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # RPC: casts by topic and method, calls and errors by API and method.
    assert moved_by("nubis_rpc_casts_total", topic=conductor_topic, method="build_instances") == 1
    for method in ("build_and_run_instance", "live_migration"):
        assert moved_by("nubis_rpc_casts_total", topic=compute_topic, method=method) == 1
    rpc = "nubis_rpc_call_duration_seconds"
    assert moved_by(f"{rpc}_count", api="scheduler", method="select_destinations") == 1
    assert moved_by(f"{rpc}_sum", api="scheduler", method="select_destinations") > 0
    assert moved_by(f"{rpc}_count", api="compute_task", method="live_migrate_instance") == 2
    for method in (
        "check_can_live_migrate_destination",
        "check_can_live_migrate_source",
        "pre_live_migration",
        "post_live_migration_at_destination",
    ):
        assert moved_by(f"{rpc}_count", api="compute", method=method) == 1
    assert moved_by(f"{rpc}_count", api="conductor", method="object_action") > 0
    refusal = {"api": "compute_task", "method": "live_migrate_instance"}
    errors = "nubis_rpc_call_errors_total"
    assert moved_by(errors, exception="MigrationPreCheckError", **refusal) == 1

    # Builds and live migrations by outcome, with their durations.
    assert moved_by("nubis_compute_build_duration_seconds_count", outcome="active") == 1
    assert moved_by("nubis_compute_build_duration_seconds_sum", outcome="active") > 0
    for outcome in ("error", "rescheduled", "refused"):
        assert moved_by("nubis_compute_build_duration_seconds_count", outcome=outcome) == 0
    lm = "nubis_compute_live_migration_duration_seconds"
    assert moved_by(f"{lm}_count", outcome="completed") == 1
    assert moved_by(f"{lm}_sum", outcome="completed") > 0

    # The periodic task.
    task_labels = {"task": "update_available_resource"}
    assert moved_by("nubis_periodic_task_duration_seconds_count", **task_labels) == 1
    assert moved_by("nubis_periodic_task_failures_total", **task_labels) == 0
    assert moved_by("nubis_periodic_task_overruns_total", **task_labels) == 0

    # API requests by route template and status.
    requests_ = "nubis_api_request_duration_seconds_count"
    server_action = "/v2.1/servers/{server_id}/action"
    assert moved_by(requests_, method="POST", route="/v2.1/servers", status="202") == 1
    assert moved_by(requests_, method="POST", route=server_action, status="202") == 1
    assert moved_by(requests_, method="POST", route=server_action, status="400") == 1
    assert moved_by(requests_, method="GET", route="/v2.1/os-services", status="200") == 1
    service_route = "/v2.1/os-services/{service_id}"
    assert moved_by(requests_, method="PUT", route=service_route, status="200") == 2
    assert moved_by(requests_, method="GET", route="unmatched", status="404") == 1
    assert moved_by(requests_, method="GET", route="/v2.1/servers/{server_id}", status="200") > 0
    # Raw paths never become labels.
    assert not any(server_id in str(labels) for _, labels in after)
