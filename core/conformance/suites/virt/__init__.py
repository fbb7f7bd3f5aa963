"""Suite of ``nubis.virt``: the ComputeDriver contract (nubis.core.virt.driver).

Every test creates its drivers through the ``nubis_virt`` fixture (a
:class:`~.fixtures.Harness`): each driver gets a private ConfigOpts with the plugin's
published options (``oslo.config.opts`` entry point ``nubis.virt.<name>``) and the
target's options, and ``init_host`` with a unique host name. Guests are diskless,
64 MiB, one vCPU. Calls go through a contract proxy: a NotImplementedError fails the
test saying so. On teardown the harness checks, for free, that no guest the test
created is still on any of its hosts (a leftover fails the test, after being
removed) and that ``destroy`` of a guest already gone succeeds (the contract's
idempotency promise); then ``cleanup_host`` runs.

Extras:

* ``peer_options`` -- options (or ``callable(request) -> options``) of a second host,
  the live-migration destination. Without it a driver declaring
  ``supports_live_migration`` has its migration tests reported as an environment
  that is missing (skipped; failed under ``--nubis-require-environment``).
"""
