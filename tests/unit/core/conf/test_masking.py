"""The one masking helper: passwords of transport and database URLs never show."""

from __future__ import annotations

import pytest

from nubis.core.conf.masking import mask, mask_url


@pytest.mark.parametrize(
    "url, masked",
    [
        ("rabbit://user:pass@:notaport/", "rabbit://user:***@:notaport/"),
        ("rabbit://guest:guest@127.0.0.1:5672/", "rabbit://guest:***@127.0.0.1:5672/"),
        ("postgresql+psycopg2://nubis:s3cret@db/nubis", "postgresql+psycopg2://nubis:***@db/nubis"),
        ("mysql://nubis:p@ss/w,rd@db:3306/nubis", "mysql://nubis:***@db:3306/nubis"),
        ("rabbit://a:p1@h1:5672,b:p2@h2:5672/", "rabbit://a:***@h2:5672/"),
        ("rabbit://:only-a-password@host/", "rabbit://:***@host/"),
        ("mysql://db/nubis?user=n&password=s3cret&x=1", "mysql://db/nubis?user=n&password=***&x=1"),
        ("rabbit://guest@host/", "rabbit://guest@host/"),
        ("sqlite:////var/lib/nubis/nubis.sqlite", "sqlite:////var/lib/nubis/nubis.sqlite"),
        ("inproc://", "inproc://"),
        ("not a url", "not a url"),
        ("", ""),
    ],
)
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_mask_finds_every_url_in_a_text():
    text = (
        "cannot reach 'rabbit://u:p1@h:5672/' nor postgresql://n:p2@db/x, "
        "said kombu: amqp://guest:guest@broker//"
    )
    assert mask(text) == (
        "cannot reach 'rabbit://u:***@h:5672/' nor postgresql://n:***@db/x, "
        "said kombu: amqp://guest:***@broker//"
    )
    assert mask("no url here: user:pass@host") == "no url here: user:pass@host"
