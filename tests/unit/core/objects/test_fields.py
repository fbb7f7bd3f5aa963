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


def test_it_reads_every_form_as_oslo_s_parser_does() -> None:
    """The fast reader and oslo's agree on each form a peer or a person may send,
    including forms only oslo's parser reads, which it is left to."""
    field, oslo = fields.DateTimeField(), ovo_fields.DateTimeField()
    unaware, oslo_unaware = (
        fields.DateTimeField(tzinfo_aware=False),
        ovo_fields.DateTimeField(tzinfo_aware=False),
    )
    for text in (
        "2026-11-22T09:19:29.000633+00:00",
        "2026-11-22T09:19:29Z",
        "2026-11-22T09:19:29",
        "2026-11-22T10:19:29.5+01:00",
        "2026-11-22 09:19:29.000633",
        "2026-11-22T09:19:29.000633-05:30",
        "2026-11-22T09:19:29,5Z",  # a comma for the fraction: oslo's parser's form
    ):
        ours = field.from_primitive(None, "t", text)
        assert ours == oslo.from_primitive(None, "t", text), text
        assert ours.utcoffset() is not None, text
        assert unaware.from_primitive(None, "t", text) == oslo_unaware.from_primitive(
            None, "t", text
        ), text


def test_a_value_that_is_no_time_is_refused_as_oslo_refuses_it() -> None:
    field = fields.DateTimeField()
    for bad in ("yesterday", "2026-13-01T00:00:00Z", 17):
        try:
            field.from_primitive(None, "t", bad)
        except (ValueError, TypeError) as error:
            assert str(error), bad
        else:
            raise AssertionError(f"{bad!r} was read as a time")
