"""``nubis-manage db archive-deleted-rows`` and ``db purge``: their arguments, and the
one-line error and exit status of each bad one (nova-manage's statuses)."""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
from pathlib import Path

import pytest

from nubis.core.cmd import manage_db


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-31", datetime.datetime(2025, 1, 31)),
        ("2025-01-31 18:30", datetime.datetime(2025, 1, 31, 18, 30)),
        (" 2025-01-31T18:30:05.25 ", datetime.datetime(2025, 1, 31, 18, 30, 5, 250000)),
        ("2025-01-31T18:30:00+02:00", datetime.datetime(2025, 1, 31, 16, 30)),
        ("2025-01-31T00:30:00Z", datetime.datetime(2025, 1, 31, 0, 30)),
    ],
)
def test_dates_are_iso_8601_in_utc(text, expected):
    parsed = manage_db.parse_date(text)
    assert parsed == expected and parsed.tzinfo is None


@pytest.mark.parametrize("text", ["", "yesterday", "2025-13-01", "31/01/2025", "2025-01-31 25:00"])
def test_a_bad_date_is_one_line(text):
    with pytest.raises(ValueError) as caught:
        manage_db.parse_date(text)
    assert str(caught.value) == (
        f"--before {text!r} is not a date; use YYYY-MM-DD[ HH:MM[:SS]] (UTC) "
        "or ISO 8601 with an offset"
    )


def test_max_rows_is_a_positive_integer():
    assert manage_db.positive_int("25") == 25
    for text in ("0", "-3", "ten", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError, match="must be a positive integer"):
            manage_db.positive_int(text)


@pytest.fixture
def manage(tmp_path: Path):
    """Run nubis-manage with a configuration whose database is never reached."""
    config = tmp_path / "nubis.conf"
    config.write_text(f"[database]\nconnection = sqlite:///{tmp_path}/never.sqlite\n")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nubis.core.cmd.manage", "--config-file", str(config), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    yield run
    assert not (tmp_path / "never.sqlite").exists()


def test_bad_arguments_exit_as_nova_manage_does(manage):
    archive = manage("db", "archive-deleted-rows", "--before", "soon")
    assert (archive.returncode, archive.stdout) == (4, "")
    assert archive.stderr.splitlines() == [
        "error: --before 'soon' is not a date; use YYYY-MM-DD[ HH:MM[:SS]] (UTC) "
        "or ISO 8601 with an offset"
    ]

    purge = manage("db", "purge", "--before", "2025-02-30")
    assert purge.returncode == 2
    assert purge.stderr.startswith("error: --before '2025-02-30' is not a date;")

    neither = manage("db", "purge")
    assert (neither.returncode, neither.stderr) == (
        1,
        "error: db purge needs --before DATE or --all\n",
    )

    rows = manage("db", "archive-deleted-rows", "--max-rows", "0")
    assert rows.returncode == 2
    assert rows.stderr.splitlines()[-1].endswith(
        "error: argument --max-rows: must be a positive integer, not '0'"
    )

    both = manage("db", "purge", "--all", "--before", "2025-01-01")
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr.splitlines()[-1]
