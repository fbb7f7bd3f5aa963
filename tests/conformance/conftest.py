"""tests/conformance: the conformance kit against every installed plugin, and its tests.

test_installed_plugins.py attaches the kit (``nubis.core.conformance``) to this
session with ``NUBIS_CONFORMANCE``: every installed plugin of every namespace, in-tree
and contrib alike, plus oslo.messaging's ``rabbit`` driver as the reference transport.
The targets of the in-tree plugins come from environment.py (its hook and the server
fixtures it uses are imported here, so they apply below this directory); a contrib
package brings its own environment module. kit/ holds the kit's own tests
(pytester), drivers/ the tests of what only one membership driver promises.
"""

from tests.conformance.environment import (  # noqa: F401 - the hook and fixtures it needs
    conformance_memcached,
    conformance_zookeeper,
    libvirt_uri,
    pytest_nubis_conformance_targets,
    second_libvirt_host,
)
