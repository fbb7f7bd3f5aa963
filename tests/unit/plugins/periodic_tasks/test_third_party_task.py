"""A third party's compute periodic task, written only against the ComputeHost contract
(nubis.core.compute.host) and installed as its own distribution, runs on a real
ComputeManager with the fake driver exactly as the default tasks do."""

from __future__ import annotations

import pytest

from nubis.core import exception, plugins
from tests.fixtures.plugin_dist import make_distribution, on_path
from tests.unit.plugins.managers.compute.conftest import new_instance

#: The whole plugin: it imports nubis.core and nothing of the compute manager.
ACME_TASKS = '''
"""Acme's compute periodic tasks."""

from nubis.core import objects
from nubis.core.compute.host import compute_host_of
from nubis.core.periodic import periodic_task


@periodic_task(spacing=300)
def guests_per_node(manager, context):
    """How many settled instances each node of the host runs (builds and live
    migrations in progress are not settled yet)."""
    host = compute_host_of(manager, "guests_per_node")
    moving = host.in_flight_instances()
    counts = {node: 0 for node in host.driver.get_available_nodes(refresh=True)}
    for instance in objects.InstanceList.get_by_host(context, host.host):
        if instance.node in counts and instance.uuid not in moving:
            counts[instance.node] += 1
    return counts
'''


@pytest.fixture
def acme(tmp_path):
    root = make_distribution(
        tmp_path / "acme",
        "acme-compute-tasks",
        {"acme_tasks.__init__": "", "acme_tasks.tasks": ACME_TASKS},
        {"nubis.periodic_tasks": {"guests_per_node": "acme_tasks.tasks:guests_per_node"}},
    )
    with on_path(root):
        yield plugins.load_one("nubis.periodic_tasks", "guests_per_node")


def test_the_plugin_uses_only_nubis_core():
    imports = [line for line in ACME_TASKS.splitlines() if line.startswith(("from ", "import "))]
    assert imports and all(line.startswith("from nubis.core") for line in imports)


def test_a_third_party_task_runs_on_the_compute_manager(ctx, compute_manager, flags, acme):
    manager = compute_manager(nodes=["n1", "n2"])
    for node in ("n1", "n1", "n2"):
        new_instance(ctx, manager.host, node)
    new_instance(ctx, "another-host", "n1")  # not this host's

    flags(group="compute", periodic_tasks=["update_available_resource", "guests_per_node"])
    runs = {spec.name: run for spec, run in manager.periodic_tasks()}
    assert list(runs) == ["update_available_resource", "guests_per_node"]
    runs["update_available_resource"]()  # the nodes' trackers exist from here on
    assert runs["guests_per_node"]() == {"n1": 2, "n2": 1}

    # A build holding its claim is in flight: not counted until it settles.
    building = new_instance(ctx, None, None)
    with manager.resource_trackers["n2"].instance_claim(ctx, building):
        building.save()  # the claim set host and node
        assert building.uuid in manager.in_flight_instances()
        assert acme(manager, ctx) == {"n1": 2, "n2": 1}
    assert acme(manager, ctx) == {"n1": 2, "n2": 2}
    # The audit of a node, through the same contract, agrees.
    assert manager.audit_node(ctx, "n2").instances == 2


def test_a_third_party_task_refuses_another_service(ctx, acme):
    conductor = plugins.load_one("nubis.managers", "conductor")(host="c")
    with pytest.raises(exception.ConfigurationError) as caught:
        acme(conductor, ctx)
    assert "guests_per_node runs only on a compute manager" in str(caught.value)
    assert "[conductor] periodic_tasks" in str(caught.value)
