"""The object side of a save, on every backend: ``_from_db_object`` leaves equal plain
values in place, ``object_action`` diffs against a snapshot, and the wire conversions
skip oslo's calls only where those calls would change nothing.

Each shortcut is checked against what the long way gives: a fresh read of the row,
oslo's own conversions, a full comparison of every field.
"""

import datetime
import uuid

import netaddr
import pytest
from oslo_versionedobjects import base as ovo_base
from oslo_versionedobjects import fields

from nubis.core import objects
from nubis.core.context import get_admin_context
from nubis.core.objects import actions, base
from nubis.plugins.indirection.local import LocalIndirectionAPI


@pytest.fixture
def ctx(db_url):
    objects.register_all()
    base.set_indirection_api(None)
    yield get_admin_context()
    base.set_indirection_api(None)


def _new_node(ctx):
    node = objects.ComputeNode(ctx)
    node.uuid = str(uuid.uuid4())
    node.host, node.hypervisor_hostname = "cmp1", f"node-{node.uuid[:8]}"
    node.vcpus, node.memory_mb, node.local_gb = 16, 65536, 1000
    node.vcpus_used = node.memory_mb_used = node.local_gb_used = 0
    node.stats = {"a": "1"}
    node.supported_instances = [["x86_64", "kvm", "hvm"]]
    node.create()
    return node


def _data(obj):
    return obj.obj_to_primitive()["nubis_object.data"]


@pytest.mark.parametrize("indirection", [None, "local"])
def test_saves_of_changing_fields_leave_the_object_equal_to_the_row(ctx, indirection):
    if indirection == "local":
        base.set_indirection_api(LocalIndirectionAPI())
    node = _new_node(ctx)
    steps = [
        {"vcpus_used": 1},
        {"memory_mb_used": 512, "stats": {"a": "2", "b": None}},
        {"vcpus_used": 2, "host_ip": "192.0.2.7", "cpu_allocation_ratio": 2.5},
        {"supported_instances": [], "running_vms": 3},
        {"vcpus_used": 2},  # the same value again: still a change to save
        {"free_ram_mb": None, "hypervisor_type": "QEMU"},
    ]
    for values in steps:
        for name, value in values.items():
            setattr(node, name, value)
        node.save()
        assert node.obj_what_changed() == set(), values
        fresh = objects.ComputeNode.get_by_id(ctx, node.id)
        assert _data(node) == _data(fresh), values
        for name, value in values.items():
            assert getattr(node, name) == (netaddr.IPAddress(value) if name == "host_ip" else value)
    assert isinstance(node.host_ip, netaddr.IPAddress)
    assert node.updated_at.tzinfo is not None


def test_a_save_picks_up_what_another_writer_changed(ctx):
    node = _new_node(ctx)
    other = objects.ComputeNode.get_by_id(ctx, node.id)
    other.memory_mb = 1024
    other.stats = {"z": "9"}
    other.save()
    node.vcpus_used = 5
    node.save()
    assert (node.memory_mb, node.stats, node.vcpus_used) == (1024, {"z": "9"}, 5)


def test_from_db_object_coerces_what_differs_and_resets_changes(ctx):
    node = _new_node(ctx)
    row = base.db_api().compute_node_get(ctx, node.id)
    target = objects.ComputeNode(ctx)
    target.vcpus = 16  # equal, kept
    target.memory_mb = 1  # different, replaced
    target.host = None  # None where the row has a value, replaced
    objects.ComputeNode._from_db_object(ctx, target, row)
    assert _data(target) == _data(node)
    assert target.obj_what_changed() == set()
    assert type(target.local_gb_used) is int and type(target.deleted) is bool


# --------------------------------------------------------------- the conductor's diff


@base.NubisObjectRegistry.register_if(False)
class _Gadget(base.NubisObject):
    """An object whose methods change its fields in every way a method can."""

    VERSION = "1.0"
    fields = {
        "id": fields.IntegerField(),
        "name": fields.StringField(nullable=True),
        "tags": fields.DictOfStringsField(default={}),
        "matrix": fields.ListOfListsOfStringsField(default=[]),
        "seen": fields.DateTimeField(nullable=True),
        "address": fields.IPAddressField(nullable=True),
    }

    @base.remotable
    def move_address_in_place(self):
        self.address.value = int(self.address) + 1

    @base.remotable
    def mutate_in_place(self):
        self.tags["added"] = "yes"
        self.matrix[0].append("z")

    @base.remotable
    def reassign_equal_values(self):
        self.name = str(self.name)
        self.tags = dict(self.tags)

    @base.remotable
    def set_new_fields(self):
        self.seen = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
        self.obj_reset_changes(["seen"])


def _gadget():
    gadget = _Gadget(get_admin_context())
    gadget.id, gadget.name = 1, "g"
    gadget.tags = {"a": "1"}
    gadget.matrix = [["x", "y"]]
    gadget.address = "192.0.2.10"
    gadget.obj_reset_changes()
    return gadget


def test_in_place_changes_of_containers_are_in_the_diff():
    gadget = _gadget()
    updates, result = actions.object_action(get_admin_context(), gadget, "mutate_in_place", (), {})
    assert result is None
    assert updates == {
        "tags": {"a": "1", "added": "yes"},
        "matrix": [["x", "y", "z"]],
        "obj_what_changed": set(),
    }


def test_an_address_changed_in_place_is_in_the_diff():
    # The snapshot holds a copy of the address, not the address itself.
    gadget = _gadget()
    updates, _ = actions.object_action(get_admin_context(), gadget, "move_address_in_place", (), {})
    assert updates == {"address": "192.0.2.11", "obj_what_changed": set()}


def test_equal_values_set_again_are_not_in_the_diff_but_stay_changed():
    gadget = _gadget()
    updates, _ = actions.object_action(get_admin_context(), gadget, "reassign_equal_values", (), {})
    assert updates == {"obj_what_changed": {"name", "tags"}}


def test_fields_set_by_the_method_are_in_the_diff():
    gadget = _gadget()
    updates, _ = actions.object_action(get_admin_context(), gadget, "set_new_fields", (), {})
    assert updates == {"seen": "2030-01-01T00:00:00Z", "obj_what_changed": set()}


# ------------------------------------------------------------ the wire conversions


def _oslo_from_primitive(primitive):
    """oslo's own hydration, every value through from_primitive and coerce."""
    return ovo_base.VersionedObject._obj_from_primitive.__func__(
        objects.ComputeNode,
        get_admin_context(),
        primitive["nubis_object.version"],
        primitive,
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("vcpus", 12, 12),
        ("vcpus", "12", 12),
        ("vcpus", True, 1),
        ("vcpus", 2.7, 2),
        ("free_ram_mb", None, None),
        ("host", "h2", "h2"),
        ("host", 5, "5"),
        ("cpu_allocation_ratio", 3, 3.0),
        ("cpu_allocation_ratio", 1.5, 1.5),
        ("deleted", 1, True),
    ],
)
def test_incoming_values_end_up_as_oslo_would_store_them(ctx, name, value, expected):
    primitive = _new_node(ctx).obj_to_primitive()
    primitive["nubis_object.data"][name] = value
    ours = objects.ComputeNode.obj_from_primitive(primitive, get_admin_context())
    theirs = _oslo_from_primitive(primitive)
    assert getattr(ours, name) == expected
    assert type(getattr(ours, name)) is type(getattr(theirs, name))
    assert _data(ours) == _data(theirs)


@pytest.mark.parametrize(
    ("name", "value"), [("vcpus", None), ("vcpus", "many"), ("cpu_allocation_ratio", "fast")]
)
def test_bad_incoming_values_are_still_refused(ctx, name, value):
    primitive = _new_node(ctx).obj_to_primitive()
    primitive["nubis_object.data"][name] = value
    with pytest.raises(ValueError):
        objects.ComputeNode.obj_from_primitive(primitive, get_admin_context())


def test_outgoing_primitives_are_oslos(ctx):
    node = _new_node(ctx)
    node.free_ram_mb = None
    node.host_ip = "192.0.2.9"
    node.vcpus_used = 3
    ours = node.obj_to_primitive()
    theirs = ovo_base.VersionedObject.obj_to_primitive(node)
    assert ours["nubis_object.data"] == theirs["nubis_object.data"]
    assert sorted(ours["nubis_object.changes"]) == sorted(theirs["nubis_object.changes"])
