"""The DB access guard: once blocked, every way into the database says who and where."""

import inspect

import pytest

from nubis.core import exception
from nubis.core.db import api, engine, migration

UNGUARDED = {"block_db_access", "unblock_db_access"}


def _public_api_functions():
    for name, function in vars(api).items():
        if (
            inspect.isfunction(function)
            and not name.startswith("_")
            and function.__module__ == api.__name__
            and name not in UNGUARDED
        ):
            yield name, function


@pytest.fixture
def blocked(sqlite_db_url):
    api.block_db_access("nubis-compute")
    yield
    api.unblock_db_access()


def test_api_function_names_binary_and_itself(blocked, admin_context):
    with pytest.raises(exception.DBNotAllowed) as raised:
        api.instance_get_by_uuid(admin_context, "some-uuid")
    assert raised.value.kwargs == {
        "binary": "nubis-compute",
        "caller": "nubis.core.db.api.instance_get_by_uuid",
    }
    assert str(raised.value) == (
        "nubis-compute must not access the database directly (called from "
        "nubis.core.db.api.instance_get_by_uuid); remotable methods go through the "
        "conductor indirection API"
    )


def test_every_public_api_function_is_guarded(blocked):
    names = []
    for name, function in _public_api_functions():
        placeholders = [None] * len(inspect.signature(function).parameters)
        with pytest.raises(exception.DBNotAllowed) as raised:
            function(*placeholders)
        assert raised.value.kwargs["caller"] == f"nubis.core.db.api.{name}"
        names.append(name)
    assert "service_update" in names and "action_events_get" in names


def test_get_engine_names_its_caller(blocked):
    with pytest.raises(exception.DBNotAllowed) as raised:
        engine.get_engine()
    assert raised.value.kwargs["caller"] == (f"{__name__}.test_get_engine_names_its_caller")


def test_a_new_function_cannot_forget_the_guard(blocked):
    def undecorated_db_function():
        with engine.transaction():
            pass

    with pytest.raises(exception.DBNotAllowed, match="undecorated_db_function"):
        undecorated_db_function()


def test_migrations_are_guarded_too(blocked):
    with pytest.raises(exception.DBNotAllowed, match="db_sync"):
        migration.db_sync()


def test_unblocking_restores_access(blocked, admin_context):
    api.unblock_db_access()
    assert api.service_get_all(admin_context) == []
