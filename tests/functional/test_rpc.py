"""nubis RPC helpers over inproc://: base API, context and object serialization,
version caps, and nubis exceptions crossing the bus as their own class."""

import uuid

import oslo_messaging as messaging
import pytest
from oslo_versionedobjects import fields

from nubis.core import exception, rpc
from nubis.core.context import RequestContext
from nubis.core.objects import base
from nubis.core.rpc.baseapi import BaseAPI, BaseRPCEndpoint
from nubis.core.rpc.client import RPCAPIClient


@base.NubisObjectRegistry.register_if(False)
class Widget(base.NubisObject):
    VERSION = "1.1"
    fields = {"name": fields.StringField(), "size": fields.IntegerField(nullable=True)}

    def obj_make_compatible(self, primitive, target_version):
        super().obj_make_compatible(primitive, target_version)
        if target_version == "1.0":
            primitive.pop("size", None)


base.NubisObjectRegistry.register(Widget)


class PrivateError(Exception):
    """An exception from a module callers do not allow: it arrives as RemoteError."""


class Endpoint:
    target = messaging.Target(version="1.1")

    def __init__(self):
        self.seen = []

    def echo_widget(self, context, widget):
        self.seen.append((context, widget))
        widget.name = widget.name.upper()
        return widget

    def whoami(self, context):
        return {"user": context.user_id, "request_id": context.request_id}

    def fail(self, context):
        raise exception.InstanceNotFound(instance_id="abc")

    def fail_other(self, context):
        raise PrivateError("private")


class WidgetAPI(RPCAPIClient):
    RPC_API = "compute"
    BINARY = "nubis-compute"
    VERSION = "1.1"


@pytest.fixture
def server(flags):
    flags(transport_url="inproc:///rpc-tests")
    topic = f"t-{uuid.uuid4().hex[:8]}"
    endpoint = Endpoint()
    srv = rpc.get_server(
        messaging.Target(topic=topic, server="h1"), [endpoint, BaseRPCEndpoint("nubis-x", "h1")]
    )
    srv.start()
    yield topic, endpoint
    srv.stop()
    srv.wait()


def test_ping_and_version(server):
    topic, _ = server
    ctx = RequestContext(user_id="u1")
    api = BaseAPI(topic)
    assert api.ping(ctx, "hi", server="h1", timeout=5) == {
        "service": "nubis-x",
        "host": "h1",
        "arg": "hi",
    }
    assert api.get_service_version(ctx, timeout=5) >= 1


def test_context_and_objects_cross_the_bus(server):
    topic, endpoint = server
    ctx = RequestContext(user_id="u1", project_id="p1")
    client = rpc.get_client(messaging.Target(topic=topic, version="1.1"))
    result = client.call(ctx, "echo_widget", widget=Widget(name="w", size=3))
    assert isinstance(result, Widget) and result.name == "W" and result.size == 3
    received_ctx, received = endpoint.seen[-1]
    assert isinstance(received_ctx, RequestContext) and received_ctx.project_id == "p1"
    assert isinstance(received, Widget)
    assert client.call(ctx, "whoami") == {"user": "u1", "request_id": ctx.request_id}


def test_nubis_exception_keeps_its_class(server):
    topic, _ = server
    client = rpc.get_client(messaging.Target(topic=topic, version="1.1"))
    with pytest.raises(exception.InstanceNotFound, match="instance abc could not be found"):
        client.call(RequestContext(), "fail")
    with pytest.raises(messaging.RemoteError, match="PrivateError"):
        client.call(RequestContext(), "fail_other")


def test_explicit_version_cap(flags, server):
    flags(group="upgrade_levels", compute="1.0")
    api = WidgetAPI(topic=server[0])
    assert api.version_cap == "1.0"
    assert api.can_send_version("1.0") and not api.can_send_version("1.1")


def test_auto_version_cap_uses_oldest_service(flags, server, monkeypatch):
    flags(group="upgrade_levels", compute="auto")
    asked = []

    def oldest(context, binary):
        asked.append(binary)
        return 0

    monkeypatch.setattr(WidgetAPI, "minimum_service_version", staticmethod(oldest))
    api = WidgetAPI(topic=server[0])
    assert asked == ["nubis-compute"]
    assert api.version_cap == "1.0"


def test_no_cap_by_default(server):
    assert WidgetAPI(topic=server[0]).version_cap is None


def test_capped_client_backports_objects_to_old_peer(flags, server):
    topic, endpoint = server
    client = rpc.get_client(messaging.Target(topic=topic, version="1.1"))
    primitive = Widget(name="w", size=3).obj_to_primitive(target_version="1.0")
    assert "size" not in primitive["nubis_object.data"]
    assert primitive["nubis_object.version"] == "1.0"
    result = client.call(
        RequestContext(), "echo_widget", widget=Widget.obj_from_primitive(primitive)
    )
    assert result.name == "W" and not result.obj_attr_is_set("size")
