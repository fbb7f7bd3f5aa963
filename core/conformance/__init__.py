"""nubis-conformance: the conformance kit every nubis plugin is held to.

The kit ships with nubis (``nubis.core.conformance``) so that a third party's plugin
package is tested exactly as the default plugins are: the same suites (one per
namespace, in ``nubis.core.conformance.suites``), resolved through the same entry
point production loads, with the same verdicts.

Running it
==========

From the command line (console script ``nubis-conformance``)::

    nubis-conformance --namespace nubis.virt --plugin qemu [--config-file F]
    nubis-conformance --namespace nubis.servicegroup          # every plugin of it
    nubis-conformance                                         # every installed plugin
    nubis-conformance ... --json-report R.json --junit-xml R.xml --report-dir D
    nubis-conformance ... --environment tests.conformance.environment
    nubis-conformance ... --require-environment               # missing server = failure
    nubis-conformance ... -- -x -k lifecycle                  # more pytest arguments
    nubis-conformance matrix D/*.json -o docs/support-matrix.md
    nubis-conformance matrix D/*.json --check docs/support-matrix.md   # exit 1 if stale

``--plugin`` is resolved with :func:`nubis.core.plugins.load_one`, exactly as production
does. Exit status: 0 when every test passed, was skipped for an undeclared capability,
or failed under a waiver; 1 when anything failed (a contract problem, a test of the
required contract or of a declared capability, a required method raising
NotImplementedError); 2 for bad arguments (one line on stderr). "Every installed
plugin" of ``oslo.messaging.drivers`` leaves out the drivers oslo.messaging ships itself
(name one, e.g. ``--plugin rabbit``, to run the suite against it). The run happens in
an empty temporary directory: only the kit is collected, and conftest.py files of the
current directory do not apply (``--environment`` modules do).

From a plugin's own test suite: the pytest plugin ``nubis_conformance`` (module
:mod:`nubis.core.conformance.pytest_plugin`, registered under ``pytest11``, so loaded
automatically wherever nubis is installed; it does nothing until a selection is given)
needs one line in the plugin package's pyproject.toml::

    [tool.pytest.ini_options]
    addopts = "--nubis-conformance=nubis.servicegroup:redis"

``--nubis-conformance SEL`` may be repeated; SEL is ``NAMESPACE:PLUGIN``, ``NAMESPACE``
(every installed plugin of it) or ``all``; the ini key ``nubis_conformance`` (one SEL
per line) does the same. The suites are collected beside the project's own tests,
one node per plugin: ``nubis-conformance/<namespace>:<plugin>`` holding ``contract``
(the load-time check, run first) and ``<suite module>::<test>[<target>]``. When the
command line names explicit node ids (``file.py::test``) the kit adds nothing. A test
module may carry the selection instead, which attaches the suites under that module
(this is how nubis runs the kit in tests/conformance/test_installed_plugins.py)::

    NUBIS_CONFORMANCE = ["all"]

Options (ini keys: ``nubis_conformance``, ``nubis_config_file``):
``--nubis-config-file F`` -- an oslo.config file configuring the plugins under test
(e.g. ``[redis_servicegroup] url``; groups that nothing registered are left out, so a
whole deployment's file will do; the plugin's own options are registered first from its
``oslo.config.opts`` entry point named ``<namespace>.<plugin>``);
``--nubis-report-json PATH``; ``--nubis-report-dir DIR`` (one report per plugin,
``<namespace>--<plugin>.json``); ``--nubis-require-environment`` (default: on when
``NUBIS_REQUIRE_SERVERS=1``) turns "environment missing" skips (no server, no peer
host) into failures. pytest's own ``--junitxml`` carries, per test case, the properties
``nubis_test_id``, ``nubis_plugin``, ``nubis_target``, ``nubis_capability``,
``nubis_waiver`` and ``nubis_skip_kind``.

Declaring capabilities and waivers (in the plugin's code)
=========================================================

::

    from nubis.core.servicegroup.driver import ServiceGroupDriver

    class RedisDriver(ServiceGroupDriver):
        capabilities = {"reports_through_conductor": False}
        conformance_waivers = {
            # test name (the stable id without "<namespace>::") -> why, in words
            "test_member_is_up_again_after_its_server_restarts":
                "needs Redis persistence; tracked in example.org/issues/12",
        }

``capabilities`` maps names of the namespace's capability table to bools: virt's
:data:`nubis.core.virt.driver.CAPABILITIES`, servicegroup's
:data:`nubis.core.conformance.capabilities.SERVICEGROUP` (the field ``capabilities``
of :class:`nubis.core.plugins.Namespace` names each table;
:func:`nubis.core.conformance.capabilities.known` returns it). An unknown name or a
non-bool value fails the plugin's contract check when it is loaded, in production and
in the kit. Three outcomes: an undeclared capability's tests are skipped with the
reason ("<plugin> does not declare X"); a declared one must pass; a required method
raising NotImplementedError fails the test, saying so. An instance may withdraw a
capability its configuration cannot provide (never add one); its tests are then
skipped as ``withdrawn``.

``conformance_waivers`` -- or the decorator ``@nubis.core.conformance.waive(test,
reason)``, which also works on function plugins (periodic tasks) -- names suite tests
the plugin is known to fail, each with a non-empty reason. A waiver for a test the
suite does not have, or without a reason, is a contract problem. A waived test still
runs: failing it is reported as ``waived`` with the reason, passing it as
``waiver-unneeded`` ("waiver no longer needed"), in the terminal summary, the JUnit XML
and the JSON report.

Telling the kit how to run a plugin (its environment)
=====================================================

By default a plugin runs as one target named after it, configured by
``--nubis-config-file``. An environment returns the targets itself from the hook
``pytest_nubis_conformance_targets(config, namespace, plugin)`` (first non-None answer
wins; return None for plugins you do not know)::

    from nubis.core.conformance import Target

    def pytest_nubis_conformance_targets(config, namespace, plugin):
        if (namespace, plugin) == ("nubis.virt", "qemu"):
            return [Target("qemu", options={"qemu": {"state_dir": "/var/tmp/q1"}},
                           extras={"peer_options": {"qemu": {"state_dir": "/var/tmp/q2"}}})]
        return None

The hook may live in a conftest.py, in a module passed to the command line's
``--environment``, or -- so that every kit run where the plugin is installed uses it,
nubis's own tests/conformance included -- in a module of the plugin package named by an
entry point of group ``nubis.conformance.environments`` (loaded only when the kit runs;
a ``pytest11`` entry point works too but is loaded into every pytest session).
``options`` is ``{group: {option: value}}`` or a callable ``(request) -> that``, called
in the test (it may use fixtures via ``request.getfixturevalue``, register finalizers,
and call :func:`nubis.core.conformance.harness.missing` when its server is absent).
``extras`` keys are namespace-specific, documented in each suite package's docstring:
virt ``peer_options``; servicegroup ``fault``, ``left_behind``; oslo.messaging.drivers
``url``; nubis.periodic_tasks ``service``. Unknown keys are an error.

Harness checks for free: a test's plugin instances go through a contract proxy (a
NotImplementedError fails the test, naming the method); virt guests a test created are
checked gone on every host afterwards and destroyed a second time (the contract's
idempotency); servicegroup members are joined twice and left twice, and checked to
have left nothing behind.

Reports
=======

The JSON report (schema ``report.schema.json`` in this package, checked on every write
and read) holds the kit version (the nubis distribution's) and per plugin: its entry
point, distribution and version, the contract check, known and declared capabilities,
its waivers with their reasons and outcomes, and per target the withdrawn capabilities,
a verdict per capability (``passed``, ``failed``, ``waived``, ``incomplete``,
``withdrawn``, ``not-declared``, ``not-run``; ``core`` is the required contract) and
every test by its stable id ``<namespace>::<test name>``. ``nubis-conformance matrix``
turns reports into the support matrix (docs/support-matrix.md).
"""

from nubis.core.conformance.targets import Target
from nubis.core.conformance.waivers import waive

__all__ = ["Target", "waive"]
