"""Runs the conformance kit against every installed plugin (see conftest.py).

Each plugin is a node ``<namespace>:<plugin>`` below this module: its contract check
first, then its namespace's suite once per target. The JSON report of a full run is
what docs/conformance/ holds (see tests/conformance/kit/test_support_matrix.py).
"""

#: Read by the kit's pytest plugin (nubis.core.conformance.pytest_plugin).
NUBIS_CONFORMANCE = ["all", "oslo.messaging.drivers:rabbit"]
