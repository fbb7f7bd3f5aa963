"""The request context's round trip and the one-line exception contract."""

import pytest

from nubis.core import exception
from nubis.core.context import RequestContext, get_admin_context


def test_context_round_trip_keeps_read_deleted_and_identity():
    ctx = RequestContext(user_id="u", project_id="p", roles=["member"], read_deleted="yes")
    again = RequestContext.from_dict(ctx.to_dict())
    assert (again.user_id, again.project_id, again.roles) == ("u", "p", ["member"])
    assert again.read_deleted == "yes" and again.request_id == ctx.request_id


def test_bad_read_deleted_is_named():
    with pytest.raises(ValueError, match="read_deleted must be 'no', 'yes' or 'only', not 'maybe'"):
        RequestContext(read_deleted="maybe")


def test_admin_context():
    assert get_admin_context().is_admin


def test_message_formats_and_falls_back_to_template():
    assert str(exception.InstanceNotFound(instance_id="x")) == "instance x could not be found"
    assert str(exception.InstanceNotFound()) == "instance %(instance_id)s could not be found"
    assert str(exception.NubisException("explicit")) == "explicit"


def test_one_line_drops_a_remote_traceback():
    class Remote(exception.InstanceNotFound):
        def __str__(self):
            return self.message + "\nTraceback (most recent call last):\n  ..."

    assert exception.one_line(Remote(instance_id="x")) == "instance x could not be found"
    assert exception.one_line(ValueError("first\nsecond")) == "first"
    assert exception.one_line(RuntimeError("  spaced   out ")) == "spaced out"
