"""The whole remotable path for real: nubis-conductor in its own process on RabbitMQ
with PostgreSQL or MariaDB; this process plays nubis-compute (its database access is
blocked) and creates, saves, refreshes and lists objects through the conductor, then
reads the rows back with SQL. A newer object version only the conductor knows is
backported through it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import oslo_messaging as messaging
import pytest
import sqlalchemy

from nubis.core import exception, objects, rpc
from nubis.core.context import get_admin_context
from nubis.core.db import api as db_api
from nubis.core.objects import base
from nubis.core.plugins import load_one
from tests.fixtures import remote_objects
from tests.fixtures.plugin_dist import make_distribution
from tests.fixtures.require import require_port

BIN = Path(sys.executable).parent
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"

FUTURE_CONDUCTOR = '''
import oslo_messaging as messaging
from oslo_versionedobjects import fields

from nubis.core.objects import base, compute_node
from nubis.plugins.managers.conductor.manager import ConductorManager


@base.NubisObjectRegistry.register
class ComputeNode(compute_node.ComputeNode):
    """ComputeNode as a newer release would have it."""

    VERSION = "1.2"
    fields = dict(compute_node.ComputeNode.fields, future_field=fields.StringField(nullable=True))

    def obj_make_compatible(self, primitive, target_version):
        super().obj_make_compatible(primitive, target_version)
        if target_version in ("1.0", "1.1"):
            primitive.pop("future_field", None)


class FutureConductor(ConductorManager):
    """The DB conductor of a newer release, plus a call returning a 1.2 object."""

    def get_future_node(self, context, node_uuid):
        node = ComputeNode.get_by_uuid(context, node_uuid)
        node.future_field = "from the future"
        return node
'''


@pytest.fixture
def conductor_process(db_url, tmp_path, flags):
    require_port("RabbitMQ", "127.0.0.1", 5672)
    plugins = make_distribution(
        tmp_path / "plugins",
        "nubis-future",
        {"nubis_future": FUTURE_CONDUCTOR},
        {"nubis.managers": {"futureconductor": "nubis_future:FutureConductor"}},
    )
    topic = f"conductor-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "conductor.conf"
    config.write_text(
        f"[DEFAULT]\nhost = cond1\ntransport_url = {RABBIT}\nreport_interval = 5\n"
        f"[database]\nconnection = {db_url}\n"
        f"[conductor]\nmanager = futureconductor\ntopic = {topic}\n"
    )
    env = dict(os.environ, PYTHONPATH=str(plugins))
    log = open(tmp_path / "conductor.log", "w")
    proc = subprocess.Popen(
        [BIN / "nubis-conductor", "--config-file", config], env=env, stdout=log, stderr=log
    )
    flags(transport_url=RABBIT)
    flags(group="conductor", topic=topic)
    objects.register_all()
    indirection = load_one("nubis.indirection", "conductor")()
    base.set_indirection_api(indirection)
    db_api.block_db_access("nubis-compute")
    try:
        indirection.wait_until_ready(get_admin_context(), timeout=30)
        yield {"url": db_url, "topic": topic, "proc": proc}
    finally:
        db_api.unblock_db_access()
        base.set_indirection_api(None)
        proc.terminate()
        proc.wait(30)
        log.close()


@pytest.mark.parametrize("db_backend", ["postgresql", "mysql"], indirect=True)
@pytest.mark.timeout(120)
def test_remotable_path_through_a_conductor_process(conductor_process):
    ctx = get_admin_context()
    with pytest.raises(exception.DBNotAllowed):
        db_api.instance_get_by_uuid(ctx, str(uuid.uuid4()))

    result = remote_objects.save_scenario(ctx)
    assert result["after_save_changes"] == [] and result["vm_state"] == "active"
    instance = objects.Instance.get_by_uuid(ctx, result["uuid"])
    assert instance.system_metadata == {"image": "none"}

    listed = objects.InstanceList.get_by_host_and_node(ctx, "cmp1", "node1")
    assert result["uuid"] in [i.uuid for i in listed]

    with pytest.raises(exception.UnexpectedTaskStateError):
        instance.task_state = "deleting"
        instance.save(expected_task_state=["spawning"])
    instance.refresh()
    assert instance.task_state is None and instance.obj_what_changed() == set()

    engine = sqlalchemy.create_engine(conductor_process["url"])
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sqlalchemy.text("SELECT vm_state, task_state, host FROM instances WHERE uuid = :u"),
                {"u": result["uuid"]},
            ).one()
            services = conn.execute(
                sqlalchemy.text("SELECT topic, report_count FROM services WHERE host = 'cond1'")
            ).all()
    finally:
        engine.dispose()
    assert tuple(row) == ("active", None, "cmp1")
    assert [s[0] for s in services] == [conductor_process["topic"]]


@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
@pytest.mark.timeout(120)
def test_newer_object_version_is_backported_through_the_conductor(conductor_process):
    ctx = get_admin_context()
    node = objects.ComputeNode(ctx)
    node.uuid = str(uuid.uuid4())
    node.host, node.hypervisor_hostname = "h", "n"
    node.vcpus = node.memory_mb = node.local_gb = 1
    node.vcpus_used = node.memory_mb_used = node.local_gb_used = 0
    node.cpu_allocation_ratio = 4.0
    node.create()

    client = rpc.get_client(
        messaging.Target(topic=conductor_process["topic"], version="1.0")
    ).prepare(timeout=20)
    received = client.call(ctx, "get_future_node", node_uuid=node.uuid)
    assert isinstance(received, objects.ComputeNode)
    assert received.VERSION == "1.1"
    assert received.uuid == node.uuid and received.cpu_allocation_ratio == 4.0
    assert "future_field" not in received.fields
