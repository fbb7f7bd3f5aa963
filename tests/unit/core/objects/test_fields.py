"""nubis's DateTimeField: microseconds survive the wire, and peers with oslo's own
field read and write primitives it understands."""

from __future__ import annotations

import datetime

from oslo_versionedobjects import fields as ovo_fields

from nubis.core.objects import fields

WHEN = datetime.datetime(2026, 11, 22, 9, 19, 29, 633, tzinfo=datetime.UTC)


def test_a_primitive_keeps_the_microseconds() -> None:
    field = fields.DateTimeField(nullable=True)
    primitive = field.to_primitive(None, "updated_at", WHEN)
    assert primitive == "2026-11-22T09:19:29.000633+00:00"
    assert field.from_primitive(None, "updated_at", primitive) == WHEN


def test_oslo_s_field_reads_it_and_it_reads_oslo_s() -> None:
    ours, oslo = fields.DateTimeField(), ovo_fields.DateTimeField()
    assert oslo.from_primitive(None, "t", ours.to_primitive(None, "t", WHEN)) == WHEN
    legacy = oslo.to_primitive(None, "t", WHEN)
    assert legacy == "2026-11-22T09:19:29Z"
    assert ours.from_primitive(None, "t", legacy) == WHEN.replace(microsecond=0)


def test_a_naive_value_is_taken_as_utc_and_a_zone_is_kept_as_an_offset() -> None:
    field = fields.DateTimeField()
    naive = field.coerce(None, "t", WHEN.replace(tzinfo=None))
    assert naive == WHEN
    paris = WHEN.astimezone(datetime.timezone(datetime.timedelta(hours=1)))
    assert field.from_primitive(None, "t", field.to_primitive(None, "t", paris)) == WHEN
