"""Source of the plugins the kit's tests install (as modules of a test distribution)."""

VIRT = '''
from nubis.core.conformance import waive
from nubis.core.virt.driver import ComputeDriver
from nubis.plugins.virt.fake import FakeDriver


class BrokenDriver(ComputeDriver):
    """Lacks most of the contract, and spawn() lacks parameters."""

    conformance_waivers = {"test_no_such_test": "because", "test_guest_lifecycle": " "}

    def init_host(self, host):
        pass

    def cleanup_host(self, host):
        pass

    def get_host_ip_addr(self):
        return "127.0.0.1"

    def spawn(self, context, instance):
        pass


class TeleportDriver(FakeDriver):
    """A complete driver that claims a capability nobody defined."""

    capabilities = {**FakeDriver.capabilities, "supports_teleport": True}


class NoEventsDriver(FakeDriver):
    """The fake, declaring everything but lifecycle events."""

    capabilities = {**FakeDriver.capabilities, "supports_lifecycle_events": False}


class LazyDriver(FakeDriver):
    """Leaves a required method unimplemented."""

    def list_instances(self):
        raise NotImplementedError("later")


@waive("test_host_ip_is_an_address", "reports its host name, not an address (issue 12)")
@waive("test_hard_reboot_starts_a_stopped_guest", "once failed on a slow machine")
class WaivingDriver(FakeDriver):
    """Fails one test under a waiver; passes another it waived."""

    def get_host_ip_addr(self):
        return "not-an-address"
'''

BROKEN_IMPORT = """
raise ImportError("the hypervisor library is not installed")
"""

SERVICEGROUP = """
from nubis.plugins.servicegroup.db import DbDriver


class TypoDriver(DbDriver):
    capabilities = {"reports_thru_conductor": True}
"""

MANAGER = '''
import oslo_messaging as messaging

from nubis.core.manager import Manager


class HalfConductor(Manager):
    """Claims the conductor's RPC API but serves only part of it, one method wrongly."""

    target = messaging.Target(version="1.0")
    service_name = "conductor"

    def object_action(self, context, objinst, objmethod, args):
        return None

    def object_backport_versions(self, context, objinst, object_versions):
        return None


class FutureConductor(Manager):
    """Claims a version of the conductor API that does not exist."""

    target = messaging.Target(version="1.7")
    service_name = "conductor"
'''

#: conftest.py of the inner sessions: a live-migration peer for every fake variant.
CONFTEST = """
from nubis.core.conformance import Target


def pytest_nubis_conformance_targets(config, namespace, plugin):
    if namespace == "nubis.virt" and plugin.startswith("cf"):
        return [Target(plugin, extras={"peer_options": {}})]
    return None
"""

ENTRY_POINTS = {
    "nubis.virt": {
        "cfbroken": "cf_virt:BrokenDriver",
        "cfteleport": "cf_virt:TeleportDriver",
        "cfnoevents": "cf_virt:NoEventsDriver",
        "cflazy": "cf_virt:LazyDriver",
        "cfwaiving": "cf_virt:WaivingDriver",
        "cfnoimport": "cf_noimport:Driver",
    },
    "nubis.servicegroup": {"cftypo": "cf_servicegroup:TypoDriver"},
    "nubis.managers": {
        "cfhalf": "cf_manager:HalfConductor",
        "cffuture": "cf_manager:FutureConductor",
    },
}

MODULES = {
    "cf_virt": VIRT,
    "cf_noimport": BROKEN_IMPORT,
    "cf_servicegroup": SERVICEGROUP,
    "cf_manager": MANAGER,
}
