"""ActiveMigrations: the one-migration-per-instance rule and the abort lookup every
driver shares."""

from __future__ import annotations

import pytest

from nubis.core import exception
from nubis.core.virt.migration import ActiveMigrations


def test_a_job_is_found_while_it_runs_and_forgotten_after() -> None:
    active: ActiveMigrations[str] = ActiveMigrations()
    with active.running("i-1", "job-1") as job:
        assert job == "job-1"
        assert active.get("i-1") == "job-1" and active.jobs() == ["job-1"]
    assert active.jobs() == []
    with pytest.raises(exception.NoActiveMigrationForInstance, match="i-1"):
        active.get("i-1")


def test_a_second_migration_of_one_instance_is_refused_and_the_first_kept() -> None:
    active: ActiveMigrations[str] = ActiveMigrations()
    with active.running("i-1", "first"):
        with pytest.raises(exception.MigrationPreCheckError, match="already running"):
            with active.running("i-1", "second"):
                pass
        assert active.get("i-1") == "first"
        with active.running("i-2", "other"):
            assert sorted(active.jobs()) == ["first", "other"]


def test_a_failing_migration_is_forgotten_too() -> None:
    active: ActiveMigrations[str] = ActiveMigrations()
    with pytest.raises(RuntimeError):
        with active.running("i-1", "job"):
            raise RuntimeError("copy failed")
    assert active.jobs() == []
