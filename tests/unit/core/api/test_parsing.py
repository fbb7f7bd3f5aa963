"""Request bodies parsed defensively: nesting depth, lone surrogates, NaN, and numbers
given as strings held to the schema's limits (as Nova does)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nubis.core.api import validation
from nubis.core.api.faults import Fault
from nubis.core.api.resources import flavors, servers


def _refusal(data: bytes) -> str:
    with pytest.raises(Fault) as raised:
        validation.parse_json(data)
    assert raised.value.status == 400
    return raised.value.message


@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
def test_deep_nesting_is_refused_naming_the_limit(opener: bytes) -> None:
    closer = b"]" if opener == b"[" else b"}"
    message = _refusal(opener * 1000 + b"1" + closer * 1000)
    assert f"limit of {validation.MAX_JSON_DEPTH} levels" in message
    deepest_allowed = b"[" * validation.MAX_JSON_DEPTH + b"]" * validation.MAX_JSON_DEPTH
    assert validation.parse_json(deepest_allowed)[0] is not None
    # Unclosed, it is still refused for its depth (before the parser could recurse).
    assert "levels" in _refusal(b"[" * 100_000)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[" * 500 + '\\"{' * 100})
    assert validation.parse_json(text.encode())["a"].startswith("[[[")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b'{"server": {"name": "\\ud800"}}', "server.name"),
        (b'{"server": {"metadata": {"k": "ok\\udfff"}}}', "server.metadata.k"),
        (b'{"server": {"\\ud83d": 1}}', "server"),
        (b'["a", "\\ud800x"]', "[1]"),
        (b'"\\udc00"', "body"),
    ],
)
def test_lone_surrogates_are_refused_naming_the_field(data: bytes, field: str) -> None:
    message = _refusal(data)
    assert f"field/attribute {field}." in message and "surrogate" in message
    assert "\n" not in message


def test_a_surrogate_pair_is_text() -> None:
    assert validation.parse_json(b'"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize("data", [b"[NaN]", b'{"a": Infinity}', b"-Infinity", b"1" * 5000])
def test_non_numbers_and_giant_numbers_are_malformed(data: bytes) -> None:
    assert _refusal(data).startswith("Malformed request body:")


FLAVOR = flavors.CREATE_BODIES[-1].schema
SERVER = servers.CREATE_BODIES[-1].schema


def _flavor(**values: Any) -> dict[str, Any]:
    return {"flavor": {"name": "f", "ram": 512, "vcpus": 1, "disk": 1, **values}}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"ram": "9223372036854775808"}, "flavor.ram"),
        ({"ram": 9223372036854775808}, "flavor.ram"),
        ({"vcpus": "0"}, "flavor.vcpus"),
        ({"disk": "2147483648"}, "flavor.disk"),
        ({"swap": "9" * 5000}, "flavor.swap"),
        ({"rxtx_factor": "1" + "0" * 400}, "flavor.rxtx_factor"),
        ({"rxtx_factor": "0"}, "flavor.rxtx_factor"),
        ({"ram": "12a"}, "flavor.ram"),
    ],
)
def test_numbers_given_as_strings_get_the_same_limits(values: dict[str, Any], field: str) -> None:
    with pytest.raises(Fault) as raised:
        validation.validate(FLAVOR, _flavor(**values))
    assert raised.value.status == 400 and f"field/attribute {field}" in raised.value.message


def test_integer_like_strings_within_the_limits_are_accepted_as_nova_does() -> None:
    validation.validate(FLAVOR, _flavor(ram="2147483647", vcpus="1", disk="0", rxtx_factor="1.5"))
    server = {"server": {"name": "a", "flavorRef": "1", "networks": "none", "min_count": "2"}}
    validation.validate(SERVER, server)
    server["server"]["max_count"] = "2147483648"
    with pytest.raises(Fault, match="server.max_count"):
        validation.validate(SERVER, server)
