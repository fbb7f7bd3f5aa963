"""Fixtures of the periodic task plugins' unit tests: the compute manager's (a migrated
SQLite database behind the ``local`` indirection, fake-driver compute managers), shared
with tests/unit/plugins/managers/compute rather than copied."""

from tests.unit.plugins.managers.compute.conftest import (  # noqa: F401 - fixtures
    compute_manager,
    ctx,
    fake_host,
    indirection,
)
