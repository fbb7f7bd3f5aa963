"""Request validation: JSON bodies parsed defensively, validated against JSON schemas
(jsonschema), and query parameters against small typed declarations.

Every refusal is a 400 whose message names the field, the value given and what was
wrong, e.g. ``Invalid input for field/attribute server.min_count. Value: 0. 0 is less
than the minimum of 1``.

:func:`parse_json` is how every request body becomes a value: JSON nested deeper than
:data:`MAX_JSON_DEPTH` levels is refused before the parser sees it (a deep document
would otherwise exhaust the parser's recursion), ``NaN`` and ``Infinity`` are refused,
and so is any string (object keys included) holding a lone UTF-16 surrogate such as
``"\\ud800"``, which is not Unicode text and cannot be stored or logged.

Numbers given as strings: as in Nova, schema types such as :data:`positive_integer`
accept a string of digits, and ``minimum``/``maximum`` (and their exclusive forms)
apply to such a string's numeric value, so ``"9223372036854775808"`` is refused as
too large just as the number would be.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import jsonschema
from jsonschema import exceptions as js_exceptions
from oslo_utils import timeutils

from nubis.core.api.faults import Fault

# --- reusable body schema pieces (Nova's parameter types) -----------------------------

name = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^(?!\s)[^\x00-\x1f]*(?<!\s)$",
}
"""A name: 1-255 printable characters, no leading or trailing whitespace."""

description = {"type": ["string", "null"], "maxLength": 255, "pattern": r"^[^\x00-\x08]*$"}

boolean = {
    "type": ["boolean", "string"],
    "enum": [
        True,
        False,
        "True",
        "False",
        "true",
        "false",
        "TRUE",
        "FALSE",
        "1",
        "0",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "t",
        "f",
    ],
}
"""A boolean, also as the strings Nova accepts ('true', '1', 'yes', ...)."""

positive_integer = {
    "type": ["integer", "string"],
    "pattern": r"^[0-9]*$",
    "minimum": 1,
    "maximum": 2147483647,
    "minLength": 1,
}
"""A positive 32-bit integer, also as a string of digits."""

non_negative_integer = {
    "type": ["integer", "string"],
    "pattern": r"^[0-9]*$",
    "minimum": 0,
    "maximum": 2147483647,
    "minLength": 1,
}

hostname = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^[a-zA-Z0-9_.:@-]*$",
}
"""A service host name as nubis services register it."""

metadata = {
    "type": "object",
    "patternProperties": {
        r"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255},
    },
    "additionalProperties": False,
}

metadata_body = {
    "type": "object",
    "properties": {"metadata": metadata},
    "required": ["metadata"],
    "additionalProperties": False,
}
"""``{"metadata": {...}}``: a whole metadata mapping (replace or merge)."""

meta_body = {
    "type": "object",
    "properties": {"meta": {**metadata, "minProperties": 1, "maxProperties": 1}},
    "required": ["meta"],
    "additionalProperties": False,
}
"""``{"meta": {key: value}}``: one metadata item."""

null_action = {"type": ["null", "object"], "maxProperties": 0}
"""The value of an action that takes no arguments: ``null`` or ``{}``."""


def one_key(key: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """The schema of a body that is an object of exactly *key*, whose value matches
    *value* (``{}``: any value), e.g. ``{"os-start": null}``."""
    return {
        "type": "object",
        "properties": {key: value},
        "required": [key],
        "additionalProperties": False,
    }


def one_object(key: str, properties: Mapping[str, Any], required: list[str]) -> dict[str, Any]:
    """:func:`one_key` whose value is an object of *properties* (no other keys), of which
    *required* must be given, e.g. ``{"aggregate": {"name": ...}}``."""
    return one_key(
        key,
        {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        },
    )


_TRUE = {"true", "1", "yes", "on", "y", "t"}


def to_bool(value: Any) -> bool:
    """A validated :data:`boolean` value as a bool."""
    if isinstance(value, bool):
        return value
    return str(value).lower() in _TRUE


def to_int(value: Any) -> int:
    """A validated integer-or-digits value as an int."""
    return int(value)


# --- parsing -------------------------------------------------------------------------

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a request body may have (nubis's deepest
schema, the identity service's, needs 6)."""

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(rb"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_depth_exceeds(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text *data* nests arrays/objects deeper than *limit* levels
    (brackets inside strings do not count; malformed text is left to the parser)."""
    depth = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(data: bytes) -> Any:
    """The JSON value of the request body *data*; a 400 Fault for anything the rest of
    the API must not see (see the module docstring)."""
    if json_depth_exceeds(data):
        raise Fault(
            400,
            f"Malformed request body: arrays and objects nested deeper than the limit of "
            f"{MAX_JSON_DEPTH} levels.",
        )
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise Fault(400, f"Malformed request body: {reason}") from None
    check_text(value)
    return value


def _lone_surrogate(path: Sequence[Any], value: str) -> Fault:
    return Fault(
        400,
        f"Invalid input for field/attribute {_path(path) or 'body'}. Value: {_short(value)}. "
        "It contains a lone UTF-16 surrogate (U+D800 to U+DFFF), which is not Unicode text.",
    )


def check_text(value: Any, path: tuple[Any, ...] = ()) -> None:
    """Raise a 400 Fault naming the field if any string in *value* (keys included)
    holds a lone surrogate."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise _lone_surrogate(path, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if _SURROGATE.search(key):
                raise _lone_surrogate(path, key)
            check_text(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_text(item, (*path, index))


# --- bodies -------------------------------------------------------------------------


def _number_of(instance: str) -> int | float | None:
    """The numeric value of a string such as ``"10"`` or ``"1.5"`` (None if it is not
    one), as Nova reads it for ``minimum``/``maximum``."""
    try:
        return int(instance)
    except ValueError:
        pass
    try:
        return float(instance)
    except ValueError:
        return None


def _string_aware(keyword: str) -> Any:
    """jsonschema's *keyword* check, applied to the value of numeric strings too."""
    original = jsonschema.Draft202012Validator.VALIDATORS[keyword]

    def check(validator: Any, bound: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, str):
            number = _number_of(instance)
            if number is None:
                return
            if isinstance(number, float) and not math.isfinite(number):
                yield js_exceptions.ValidationError("It is too large (not a finite number).")
                return
            yield from original(validator, bound, number, schema) or ()
            return
        yield from original(validator, bound, instance, schema) or ()

    return check


_VALIDATOR_CLASS = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    {
        keyword: _string_aware(keyword)
        for keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    },
)

_VALIDATORS: dict[int, jsonschema.protocols.Validator] = {}


def _validator(schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    key = id(schema)
    validator = _VALIDATORS.get(key)
    if validator is None:
        _VALIDATOR_CLASS.check_schema(schema)
        validator = _VALIDATOR_CLASS(schema, format_checker=_VALIDATOR_CLASS.FORMAT_CHECKER)
        _VALIDATORS[key] = validator
    return validator


def validate(schema: Mapping[str, Any], instance: Any) -> None:
    """Raise a 400 Fault naming the field when *instance* does not match *schema*."""
    error = js_exceptions.best_match(_validator(schema).iter_errors(instance))
    if error is not None:
        raise Fault(400, describe(error))


def _path(parts: Sequence[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe(error: js_exceptions.ValidationError) -> str:
    """One line naming the failing field of *error* and why."""
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = [p for p in error.validator_value if p not in (error.instance or {})]
        field = _path([*path, missing[0]]) if missing else _path(path)
        return f"Invalid input for field/attribute {field}: required but missing."
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        extra = sorted(
            key
            for key in error.instance
            if key not in allowed and not any(re.search(p, key) for p in patterns)
        )
        field = _path([*path, extra[0]]) if extra else _path(path) or "body"
        hint = f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""
        return f"Invalid input for field/attribute {field}: not an accepted attribute{hint}."
    if error.validator in ("anyOf", "oneOf") and error.context:
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        if len(deepest.absolute_path) > len(path):
            return describe(deepest)
    field = _path(path) or "body"
    return (
        f"Invalid input for field/attribute {field}. Value: {_short(error.instance)}. "
        f"{error.message if len(error.message) <= 200 else error.message[:197] + '...'}"
    )


# --- query parameters ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Query:
    """One query parameter a route accepts.

    *kind* is ``string``, ``integer``, ``boolean``, ``uuid``, ``datetime`` or ``enum``
    (with *choices*); *minimum* bounds integers; *multi* keeps every occurrence;
    *empty_is_true* makes a boolean given with no value (``?all_tenants``) true, as Nova
    reads ``all_tenants``.
    """

    kind: str = "string"
    description: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    multi: bool = False
    max_length: int = 255
    empty_is_true: bool = False

    def schema(self) -> dict[str, Any]:
        """This parameter's JSON schema (for the OpenAPI document)."""
        one: dict[str, Any]
        if self.kind == "integer":
            one = {"type": "integer"}
            if self.minimum is not None:
                one["minimum"] = self.minimum
        elif self.kind == "boolean":
            choices = ["true", "false", "1", "0", "True", "False"]
            one = {"type": "string", "enum": [*choices, *([""] if self.empty_is_true else [])]}
        elif self.kind == "uuid":
            one = {"type": "string", "format": "uuid"}
        elif self.kind == "datetime":
            one = {"type": "string", "format": "date-time"}
        elif self.kind == "enum":
            one = {"type": "string", "enum": list(self.choices)}
        else:
            one = {"type": "string", "maxLength": self.max_length}
        return {"type": "array", "items": one} if self.multi else one

    def convert(self, param: str, raw: str) -> Any:
        """Return *raw* as this parameter's type or raise a 400 Fault naming *param*."""

        def bad(why: str) -> Fault:
            return Fault(
                400, f"Invalid input for query parameter {param}. Value: {_short(raw)}. {why}"
            )

        if self.kind == "integer":
            try:
                value = int(raw)
            except ValueError:
                raise bad("It is not an integer.") from None
            if self.minimum is not None and value < self.minimum:
                raise bad(f"It is less than the minimum of {self.minimum}.")
            if value > 2**31 - 1:
                raise bad("It is too large.")
            return value
        if self.kind == "boolean":
            lowered = raw.lower()
            if lowered in _TRUE or (self.empty_is_true and not raw):
                return True
            if lowered in {"false", "0", "no", "off", "n", "f"}:
                return False
            raise bad("It is not a boolean (true or false).")
        if self.kind == "uuid":
            try:
                return str(uuid.UUID(raw))
            except ValueError:
                raise bad("It is not a UUID.") from None
        if self.kind == "datetime":
            try:
                parsed: datetime.datetime = timeutils.normalize_time(timeutils.parse_isotime(raw))
            except (ValueError, OverflowError):
                raise bad("It is not an ISO 8601 date and time.") from None
            if not 1970 <= parsed.year <= 9999:
                raise bad("It must be a time between the years 1970 and 9999.")
            return parsed
        if self.kind == "enum":
            if raw not in self.choices:
                raise bad(f"It is not one of {', '.join(self.choices)}.")
            return raw
        if len(raw) > self.max_length or "\x00" in raw:
            raise bad(f"It must be at most {self.max_length} characters without NUL.")
        return raw


def parse_query(declared: Mapping[str, Query], args: Any) -> dict[str, Any]:
    """Convert the declared parameters present in *args* (a werkzeug MultiDict).

    Parameters not declared are ignored, as Nova does before microversion 2.75.
    """
    values: dict[str, Any] = {}
    for param, spec in declared.items():
        raw = args.getlist(param)
        if not raw:
            continue
        if spec.multi:
            values[param] = [spec.convert(param, item) for item in raw]
        else:
            values[param] = spec.convert(param, raw[-1])
    return values
