"""nubis.core.db.regexp: pattern checks, and which database errors are the pattern's."""

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from nubis.core import exception
from nubis.core.db import regexp


def test_compile_pattern_refuses_what_re2_cannot_match_in_one_line():
    with pytest.raises(exception.InvalidRegexp) as caught:
        regexp.compile_pattern(r"(a)\1")
    message = str(caught.value)
    assert "\n" not in message and "invalid escape sequence" in message
    with pytest.raises(exception.InvalidRegexp, match="longer than 255"):
        regexp.compile_pattern("a" * 256)
    assert regexp.compile_pattern("^web-[0-9]+$").search("web-12")


class _MySQLError(Exception):
    pass


@pytest.mark.parametrize(("code", "expected"), [(3692, True), (1139, True), (2013, False)])
def test_mysql_regexp_error_codes(code, expected):
    # MySQL 8 raises ER_REGEXP_* for patterns its ICU engine refuses; the machine's
    # MariaDB only warns, so this branch is reached here with a made-up driver error.
    error = OperationalError("SELECT", {}, _MySQLError(code, "regexp error"))
    assert regexp.is_pattern_error(error) is expected


def test_an_outage_is_not_a_pattern_error():
    assert not regexp.is_pattern_error(DBAPIError("SELECT", {}, ConnectionError("gone")))
