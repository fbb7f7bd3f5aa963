"""nubis-conformance: the conformance kit every nubis plugin is held to.

It ships with nubis so that a third party's plugin is tested exactly as the default
plugins are: the same suites, loaded through the same entry point production uses, with
the same verdicts. It needs pytest at run time (``pip install 'nubis[conformance]'``).

Modules:

* :mod:`~nubis.core.conformance.cli` -- the ``nubis-conformance`` command (runs, matrix).
* :mod:`~nubis.core.conformance.pytest_plugin` -- the ``nubis_conformance`` pytest plugin.
* :mod:`~nubis.core.conformance.collect` -- puts the suites into a pytest session.
* :mod:`~nubis.core.conformance.subjects` -- selections and the plugins they select.
* :mod:`~nubis.core.conformance.targets` -- :class:`Target`: how one plugin is run.
* :mod:`~nubis.core.conformance.hookspecs` -- the hook an environment returns targets from.
* :mod:`~nubis.core.conformance.harness` -- what every suite uses (runs, skips, proxy).
* :mod:`~nubis.core.conformance.fixtures` -- fixtures every suite may use.
* :mod:`~nubis.core.conformance.deployment` -- an embedded in-process deployment.
* :mod:`~nubis.core.conformance.capabilities` -- capability tables and declarations.
* :mod:`~nubis.core.conformance.waivers` -- :func:`waive`: known failures with reasons.
* :mod:`~nubis.core.conformance.report` -- the JSON report (``report.schema.json``).
* :mod:`~nubis.core.conformance.matrix` -- the support matrix built from reports.
* :mod:`~nubis.core.conformance.scaffold` -- new plugin packages
  (``nubis-manage plugins new``).
* :mod:`~nubis.core.conformance.suites` -- the suites, one package per namespace.

A plugin package registers its environment module (the targets the kit runs it with)
under the entry point group ``nubis.conformance.environments``; the kit loads those
modules when it runs, and only then. Verdicts: ``passed``, ``failed``, or
``incomplete`` (something the plugin declares was not exercised), which fails a run
unless ``--allow-incomplete`` accepts it.

How to run it, declare capabilities and waivers, and write an environment: see
docs/plugin-author-guide.md.
"""

from nubis.core.conformance.targets import Target
from nubis.core.conformance.waivers import waive

__all__ = ["Target", "waive"]
