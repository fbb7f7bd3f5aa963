"""One request id greps one request end to end: a server create through the REST API
logs, in nubis-api, the conductor, the scheduler and the compute host, records that all
carry the request id nubis-api answered with (and the caller's
``X-OpenStack-Request-ID`` as the global request id), in oslo.log's JSON format
(``use_json = True``) and in its text format. So does what the source host of a live
migration logs from the migration's own thread.

The logs are set up the way every binary sets them up (``oslo_log.log.setup`` on the
configuration, here with ``debug`` and ``log_file`` set) and written to a file the test
reads back; the cloud is the package's in-process one, whose services talk over the
message bus, so the id must survive the RPC serializer at every hop.
"""

from __future__ import annotations

import contextlib
import json
import logging as std_logging
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.logging import LogCaptureHandler
from oslo_log import log as logging

from nubis.core.conf import CONF
from tests.functional.api.conftest import Cloud, wait_for

#: (logger, a part of the message) of the records each hop of the build logs; the test
#: makes one request that reaches the scheduler, so ``chose`` is its one.
HOPS = {
    "api": ("nubis.core.api.wsgi", '"POST /v2.1/servers"'),
    "compute api": ("nubis.core.compute.api", "requested: {uuid}"),
    "conductor": ("nubis.plugins.managers.conductor.compute_task", "instance {uuid} scheduled"),
    "scheduler": ("nubis.plugins.managers.scheduler.manager", ": chose ["),
    "compute": ("nubis.plugins.managers.compute.manager", "instance {uuid} built on"),
}


@contextlib.contextmanager
def _logging_to(path: Path, use_json: bool) -> Iterator[None]:
    """Logging set up from the configuration into *path*, as the binaries do; puts back
    the handlers, levels and excepthook it replaced."""
    root = std_logging.getLogger()
    saved = (list(root.handlers), root.level, sys.excepthook)
    quieted = [pair.partition("=")[0] for pair in CONF.default_log_levels]
    levels = {name: std_logging.getLogger(name).level for name in quieted}
    options = {"use_json": use_json, "log_file": str(path), "debug": True}
    for name, value in options.items():
        CONF.set_override(name, value)
    installed: list[std_logging.Handler] = []
    try:
        logging.setup(CONF, "nubis")
        installed = list(root.handlers)
        yield
    finally:
        for name in options:
            CONF.clear_override(name)
        handlers, level, sys.excepthook = saved
        for handler in installed:
            root.removeHandler(handler)
            handler.close()
        # pytest's per-phase capture handlers of the set-up phase are gone already.
        for handler in handlers:
            if not isinstance(handler, LogCaptureHandler) and handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
        for name, saved_level in levels.items():
            std_logging.getLogger(name).setLevel(saved_level)


@pytest.fixture(params=["json", "text"])
def log_file(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``(format, path)`` of the log file, in each of oslo.log's two formats."""
    path = tmp_path / "nubis.log"
    with _logging_to(path, use_json=request.param == "json"):
        yield request.param, path


@pytest.fixture
def json_log(tmp_path: Path) -> Iterator[Path]:
    """The path of the log file, in oslo.log's JSON format."""
    path = tmp_path / "nubis.log"
    with _logging_to(path, use_json=True):
        yield path


def _json_records(path: Path) -> list[dict[str, Any]]:
    """Every complete line of the log, parsed (a service may be writing the last)."""
    records = []
    for number, line in enumerate(path.read_text().split("\n")[:-1], 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"line {number} of the log is not JSON: {line!r}") from exc
    return records


def test_one_request_id_from_the_api_to_the_compute_host(
    cloud: Cloud, log_file: tuple[str, Path]
) -> None:
    form, path = log_file
    global_id = f"req-{uuid.uuid4()}"
    body = {
        "server": {
            "name": f"traced-{form}",
            "flavorRef": cloud.flavor_id,
            "imageRef": cloud.image_id,
            "networks": "none",
        }
    }
    response = cloud.client("alice", "2.60").post(
        "/v2.1/servers", body, headers={"X-OpenStack-Request-ID": global_id}
    )
    assert response.status_code == 202, response.text
    request_id = response.headers["x-openstack-request-id"]
    assert response.headers["x-compute-request-id"] == request_id
    assert request_id.startswith("req-") and request_id != global_id
    server_id = response.json()["server"]["id"]
    try:
        cloud.wait_status(server_id, "ACTIVE")
        built = HOPS["compute"][1].format(uuid=server_id)
        wait_for(lambda: built in path.read_text(), what="the compute host's build record")
        if form == "json":
            _check_json(path, server_id, request_id, global_id)
        else:
            _check_text(path, server_id, request_id, global_id)
    finally:
        assert cloud.client("alice").delete(f"/v2.1/servers/{server_id}").status_code == 204
        cloud.wait_gone(server_id)


def _check_json(path: Path, server_id: str, request_id: str, global_id: str) -> None:
    records = _json_records(path)
    for hop, (logger, part) in HOPS.items():
        text = part.format(uuid=server_id)
        found = [r for r in records if r["name"] == logger and text in r["message"]]
        assert found, f"no {hop} record of the build in the log"
        for record in found:
            context = record["context"]
            assert (context.get("request_id"), context.get("global_request_id")) == (
                request_id,
                global_id,
            ), f"{hop} logged {record['message']!r} with context {context}"


def _check_text(path: Path, server_id: str, request_id: str, global_id: str) -> None:
    lines = path.read_text().splitlines()
    ids = f"[{global_id} {request_id} "
    for hop, (logger, part) in HOPS.items():
        text = part.format(uuid=server_id)
        found = [line for line in lines if f" {logger} " in line and text in line]
        assert found, f"no {hop} line of the build in the log"
        for line in found:
            assert ids in line, f"{hop} logged without {ids!r}: {line}"


def test_a_live_migration_logs_its_request_id_in_its_own_thread(
    cloud: Cloud, json_log: Path
) -> None:
    """The source compute host runs a live migration in a thread of its own; what that
    thread logs carries the id of the request that asked for it."""
    server_id = cloud.boot("alice", name="traced-migration")
    try:
        source = cloud.server(server_id)["OS-EXT-SRV-ATTR:host"]
        target = "cmp2" if source == "cmp1" else "cmp1"
        global_id = f"req-{uuid.uuid4()}"
        response = cloud.client("admin", "2.60").post(
            f"/v2.1/servers/{server_id}/action",
            {"os-migrateLive": {"host": target, "block_migration": "auto"}},
            headers={"X-OpenStack-Request-ID": global_id},
        )
        assert response.status_code == 202, response.text
        request_id = response.headers["x-openstack-request-id"]
        done = f"of {server_id} to {target} completed"
        wait_for(lambda: done in json_log.read_text(), what="the live migration to complete")
        parts = (f"of {server_id} to {target} running", done)
        found = [
            r
            for r in _json_records(json_log)
            if r["name"] == "nubis.plugins.managers.compute.manager"
            and any(part in r["message"] for part in parts)
        ]
        assert len(found) == 2, f"expected the running and completed records, got {found}"
        for record in found:
            context = record["context"]
            assert (context.get("request_id"), context.get("global_request_id")) == (
                request_id,
                global_id,
            ), f"{record['thread_name']} logged {record['message']!r} with context {context}"
        cloud.wait_status(server_id, "ACTIVE")
    finally:
        assert cloud.client("alice").delete(f"/v2.1/servers/{server_id}").status_code == 204
        cloud.wait_gone(server_id)
