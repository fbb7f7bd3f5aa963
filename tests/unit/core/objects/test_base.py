"""The object base's own versions of oslo's methods keep oslo's contract."""

import datetime
import uuid

import pytest

from nubis.core import objects
from nubis.core.context import get_admin_context


@pytest.fixture
def node():
    objects.register_all()
    node = objects.ComputeNode(get_admin_context())
    node.id = 7
    node.uuid = str(uuid.uuid4())
    node.host, node.hypervisor_hostname = "h", "n"
    node.vcpus, node.memory_mb, node.local_gb = 4, 1024, 10
    node.vcpus_used = node.memory_mb_used = node.local_gb_used = 0
    node.stats = {"a": "1"}
    node.supported_instances = [["x86_64", "qemu", "hvm"]]
    node.created_at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    node.obj_reset_changes()
    node.vcpus_used = 2
    return node


def test_clone_is_independent_and_keeps_changes(node):
    clone = node.obj_clone()
    assert clone.obj_to_primitive() == node.obj_to_primitive()
    assert clone.obj_what_changed() == {"vcpus_used"}
    clone.stats["a"] = "2"
    clone.supported_instances.append(["aarch64", "qemu", "hvm"])
    assert node.stats == {"a": "1"}
    assert node.supported_instances == [["x86_64", "qemu", "hvm"]]
    assert clone.stats == {"a": "2"} and len(clone.supported_instances) == 2
    assert node.obj_what_changed() == {"vcpus_used"}
    assert clone._context is node._context


def test_primitive_round_trip_matches_oslo(node):
    from oslo_versionedobjects import base as ovo_base

    ours = node.obj_to_primitive()
    theirs = ovo_base.VersionedObject.obj_to_primitive(node)
    assert ours["nubis_object.data"] == theirs["nubis_object.data"]
    assert sorted(ours["nubis_object.changes"]) == sorted(theirs["nubis_object.changes"])
    back = objects.ComputeNode.obj_from_primitive(ours, get_admin_context())
    assert back.obj_to_primitive() == ours
    assert back.obj_what_changed() == {"vcpus_used"}


def test_attr_is_set_rejects_unknown_names(node):
    assert node.obj_attr_is_set("vcpus") and not node.obj_attr_is_set("free_ram_mb")
    with pytest.raises(AttributeError, match="ComputeNode object has no attribute 'bogus'"):
        node.obj_attr_is_set("bogus")


def test_coercion_still_validates_incoming_values(node):
    primitive = node.obj_to_primitive()
    primitive["nubis_object.data"]["vcpus"] = "not a number"
    with pytest.raises(ValueError):
        objects.ComputeNode.obj_from_primitive(primitive, get_admin_context())
