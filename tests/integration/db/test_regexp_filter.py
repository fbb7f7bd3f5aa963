"""The instances' ``display_name_regexp`` filter (the compute API's ``name`` filter) on
every backend: Nova's regular-expression semantics, refusals as InvalidRegexp, and no
pattern that backtracks for ever."""

import time

import pytest

from nubis.core import exception
from nubis.core.db import api

pytestmark = pytest.mark.usefixtures("db_url")


def _names(ctx, pattern):
    rows = api.instance_get_all(ctx, {"display_name_regexp": pattern})
    return sorted(row.display_name for row in rows)


def test_name_filter_is_a_regular_expression_searched_anywhere(admin_context):
    for name in ("web-instance-1", "web-instance-22", "db-instance-x", "plain"):
        api.instance_create(admin_context, {"display_name": name, "vm_state": "active"})

    assert _names(admin_context, r"^.*\-instance\-[0-9]+$") == [
        "web-instance-1",
        "web-instance-22",
    ]
    assert _names(admin_context, "instance") == [
        "db-instance-x",
        "web-instance-1",
        "web-instance-22",
    ]
    assert _names(admin_context, "^plain$") == ["plain"]
    assert _names(admin_context, "x$|^pl") == ["db-instance-x", "plain"]
    assert _names(admin_context, "^instance") == []


def test_a_catastrophic_pattern_answers_at_once(admin_context):
    # ^(a+)+$ against 'a' * 40 + '!' takes 2**40 steps in a backtracking engine.
    api.instance_create(admin_context, {"display_name": "a" * 40 + "!", "vm_state": "active"})
    started = time.monotonic()
    assert _names(admin_context, "^(a+)+$") == []
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)", "[", "a" * 300])
def test_patterns_re2_cannot_match_are_refused(admin_context, pattern):
    with pytest.raises(exception.InvalidRegexp, match="not a regular expression nubis can"):
        api.instance_get_all(admin_context, {"display_name_regexp": pattern})


def test_a_pattern_only_the_database_refuses_is_invalid_input(admin_context, db_backend):
    # RE2 reads \pL as "a letter"; PostgreSQL's engine refuses the escape.
    api.instance_create(admin_context, {"display_name": "letters", "vm_state": "active"})
    if db_backend == "postgresql":
        with pytest.raises(exception.InvalidRegexp, match="invalid escape"):
            _names(admin_context, r"^\pL+$")
        assert _names(admin_context, "^letters$") == ["letters"]  # the session is usable
    else:
        assert _names(admin_context, r"^\pL+$") == ["letters"]
